package io.d2search.distill;

import io.d2search.eval.Retriever;
import io.d2search.eval.ScoredDoc;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Hard negatives for a query: the best-ranked documents that are not its positives, taken first from the current
 * index (ANN neighbours of the student being improved: the mistakes it makes now) and then from BM25 (lexically
 * close documents the student may miss entirely), each list topping up the other when it runs short.
 *
 * <p>Unjudged documents are not known to be irrelevant; the teacher's scores of these pairs, not their being
 * "negatives", are what the rank and contrastive imitation losses learn from.
 *
 * <p>Not thread-safe (the retrievers are used from one thread).
 */
public final class NegativeMiner {
  private final Retriever dense;
  private final Retriever lexical;
  private final int k;
  private final int fromDense;

  /**
   * @param dense the current index's retriever (ANN over the parent model's vectors)
   * @param lexical BM25 over the same corpus; null to mine from the index alone
   * @param k negatives per query, ≥ 1
   * @param fromDense how many of the k come from the index when both lists have enough, in {@code [0, k]}
   */
  public NegativeMiner(Retriever dense, Retriever lexical, int k, int fromDense) {
    this.dense = Objects.requireNonNull(dense, "dense");
    this.lexical = lexical;
    if (k < 1 || fromDense < 0 || fromDense > k) {
      throw new IllegalArgumentException("need k >= 1 and 0 <= fromDense <= k: " + k + ", " + fromDense);
    }
    this.k = k;
    this.fromDense = lexical == null ? k : fromDense;
  }

  /** Negatives per query. */
  public int k() {
    return k;
  }

  /**
   * The query's hard negatives, best-ranked first within each source, without duplicates.
   *
   * @param exclude the query's positives (never returned)
   * @return exactly {@link #k()} document ids
   * @throws IllegalStateException if the corpus has fewer than k documents besides the excluded ones
   */
  public List<String> mine(String query, Set<String> exclude) {
    int depth = k + exclude.size() + 8;
    Iterator<String> fromIndex = ids(dense.search(query, depth)).iterator();
    Iterator<String> fromBm25 = lexical == null ? List.<String>of().iterator()
        : ids(lexical.search(query, depth)).iterator();
    LinkedHashSet<String> out = new LinkedHashSet<>();
    take(fromIndex, exclude, out, fromDense);
    take(fromBm25, exclude, out, k);
    take(fromIndex, exclude, out, k);
    if (out.size() < k) {
      throw new IllegalStateException("only " + out.size() + " negatives for query '" + query + "' (need " + k + ")");
    }
    return List.copyOf(out);
  }

  private static void take(Iterator<String> source, Set<String> exclude, Set<String> out, int upTo) {
    while (out.size() < upTo && source.hasNext()) {
      String id = source.next();
      if (!exclude.contains(id)) {
        out.add(id);
      }
    }
  }

  private static List<String> ids(List<ScoredDoc> docs) {
    List<String> out = new ArrayList<>(docs.size());
    docs.forEach(d -> out.add(d.docId()));
    return out;
  }
}
