package io.d2search.distill;

import io.d2search.bundle.HeadTensors;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.eval.RankingMetrics;
import io.d2search.eval.ScoredDoc;
import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Compares epochs by what {@code eval} reports and the query service does: nDCG@10 of the IEM re-ranking each
 * held-out query's HNSW top {@code depth} from the parent's index. The held-out loss compares one positive with K
 * mined negatives, and on SciFact it kept improving while the top-100 re-rank got worse; this cost measures the
 * re-rank itself, with the query service's {@link Reranker}.
 *
 * <p>Passage vectors are fixed (the parent's), so it fits runs whose PMA does not train; everything but the IEM
 * forward is computed once, up front.
 */
public final class RerankSelection implements Trainer.Selection {
  /** nDCG cut-off, as eval's headline metric. */
  public static final int K = 10;

  private record Query(float[] vector, List<String> docIds, List<float[]> vectors, Map<String, Integer> judged) {}

  private final List<Query> queries;
  private final IemHead.Input input;

  private RerankSelection(List<Query> queries, IemHead.Input input) {
    this.queries = List.copyOf(queries);
    this.input = Objects.requireNonNull(input, "input");
  }

  /**
   * @param heldOut the held-out queries and their positives (relevance 1)
   * @param index the parent's HNSW index over the corpus
   * @param vectorOf document id → the parent's vector of it (what the index holds)
   * @param depth how many HNSW candidates are re-ranked (eval and the query service: 100)
   * @param input the IEM's input variant
   */
  public static RerankSelection of(List<JudgedQuery> heldOut, HnswDenseRetriever index, Map<String, float[]> vectorOf,
      int depth, IemHead.Input input) {
    List<Query> queries = new ArrayList<>();
    for (JudgedQuery q : heldOut) {
      float[] vector = index.embed(q.text());
      List<String> ids = index.search(vector, depth).stream().map(ScoredDoc::docId).toList();
      Map<String, Integer> judged = new HashMap<>();
      q.positives().forEach(p -> judged.put(p, 1));
      queries.add(new Query(vector, ids, ids.stream().map(vectorOf::get).toList(), judged));
    }
    return new RerankSelection(queries, input);
  }

  /** Mean nDCG@10 of the candidates in HNSW order (what re-ranking should beat). */
  public double hnswNdcg() {
    return queries.stream().mapToDouble(q -> RankingMetrics.ndcg(q.docIds(), q.judged(), K)).average().orElse(0);
  }

  /** Mean nDCG@10 after re-ranking by this IEM's asymmetric logits ({@link Reranker}: ties keep the HNSW order). */
  public double ndcg(IemHead iem) {
    Reranker reranker = new Reranker(iem);
    double sum = 0;
    for (Query q : queries) {
      List<String> ranking = reranker.rerank(q.vector(), q.vectors()).stream()
          .map(s -> q.docIds().get(s.candidate())).toList();
      sum += RankingMetrics.ndcg(ranking, q.judged(), K);
    }
    return queries.isEmpty() ? 0 : sum / queries.size();
  }

  /** Minus {@link #ndcg} of the heads' IEM. */
  @Override
  public double cost(StudentHeads heads, double heldOutLoss) {
    return -ndcg(HeadTensors.iem(heads.toTensors(), input));
  }
}
