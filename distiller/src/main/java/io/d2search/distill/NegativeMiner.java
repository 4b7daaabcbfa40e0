package io.d2search.distill;

import io.d2search.eval.Retriever;
import io.d2search.eval.ScoredDoc;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.Set;

/**
 * Hard negatives for a query: the best-ranked documents that are not its positives, taken first from the current
 * index (ANN neighbours of the student being improved: the mistakes it makes now) and then from BM25 (lexically
 * close documents the student may miss entirely), each list topping up the other when it runs short.
 *
 * <p>Unjudged documents are not known to be irrelevant; the teacher's scores of these pairs, not their being
 * "negatives", are what the rank and contrastive imitation losses learn from.
 *
 * <p>With a depth beyond the number of index negatives, those are drawn across the index's top {@code depth}
 * instead of taken from its very top: one per equal stratum of ranks, at a position drawn from a generator seeded by
 * the query's text (the same query always gets the same negatives). An IEM re-ranks the whole top 100, so its
 * training lists must show it ranks 5 to 100 too, not only the closest mistakes; trained on the top few alone it
 * orders the candidates it never saw arbitrarily.
 *
 * <p>Not thread-safe (the retrievers are used from one thread).
 */
public final class NegativeMiner {
  private final Retriever dense;
  private final Retriever lexical;
  private final int k;
  private final int fromDense;
  private final int depth;

  /** Index negatives from the very top of the index: {@code depth = fromDense}. */
  public NegativeMiner(Retriever dense, Retriever lexical, int k, int fromDense) {
    this(dense, lexical, k, fromDense, lexical == null ? k : fromDense);
  }

  /**
   * @param dense the current index's retriever (ANN over the parent model's vectors)
   * @param lexical BM25 over the same corpus; null to mine from the index alone
   * @param k negatives per query, ≥ 1
   * @param fromDense how many of the k come from the index when both lists have enough, in {@code [0, k]}
   * @param depth the index ranks (positives not counted) the index negatives are drawn across, ≥ the number of index
   *     negatives; equal to it: the top ones
   */
  public NegativeMiner(Retriever dense, Retriever lexical, int k, int fromDense, int depth) {
    this.dense = Objects.requireNonNull(dense, "dense");
    this.lexical = lexical;
    if (k < 1 || fromDense < 0 || fromDense > k) {
      throw new IllegalArgumentException("need k >= 1 and 0 <= fromDense <= k: " + k + ", " + fromDense);
    }
    this.k = k;
    this.fromDense = lexical == null ? k : fromDense;
    if (depth < this.fromDense) {
      throw new IllegalArgumentException("depth " + depth + " is less than the " + this.fromDense
          + " negatives drawn from the index");
    }
    this.depth = depth;
  }

  /**
   * The same mining with {@code more} further index candidates per query: K + more in all, the extra ones from the
   * index (as many strata more across the same depth, at least).
   */
  public NegativeMiner widened(int more) {
    if (more < 0) {
      throw new IllegalArgumentException("more must be >= 0: " + more);
    }
    return new NegativeMiner(dense, lexical, k + more, fromDense + more, Math.max(depth, fromDense + more));
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
    int extra = exclude.size() + 8;
    List<String> ranked = ids(dense.search(query, Math.max(depth, k) + extra)).stream()
        .filter(id -> !exclude.contains(id)).toList();
    Iterator<String> fromBm25 = lexical == null ? List.<String>of().iterator()
        : ids(lexical.search(query, k + extra)).iterator();
    LinkedHashSet<String> out = new LinkedHashSet<>(spread(ranked.subList(0, Math.min(depth, ranked.size())),
        fromDense, query));
    take(fromBm25, exclude, out, k);
    take(ranked.iterator(), exclude, out, k);
    if (out.size() < k) {
      throw new IllegalStateException("only " + out.size() + " negatives for query '" + query + "' (need " + k + ")");
    }
    return List.copyOf(out);
  }

  /** n of the ranked ids, one from each of n equal strata, best-ranked first; all of them when there are ≤ n. */
  private static List<String> spread(List<String> ranked, int n, String query) {
    if (ranked.size() <= n) {
      return ranked;
    }
    Random random = new Random(query.hashCode());
    List<String> out = new ArrayList<>(n);
    for (int s = 0; s < n; s++) {
      int from = (int) ((long) s * ranked.size() / n);
      int to = (int) ((long) (s + 1) * ranked.size() / n);
      out.add(ranked.get(from + random.nextInt(to - from)));
    }
    return out;
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
