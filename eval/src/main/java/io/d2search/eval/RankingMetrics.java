package io.d2search.eval;

import java.util.List;
import java.util.Map;

/**
 * Per-query ranking metrics with the definitions of trec_eval / pytrec_eval as BEIR uses them: nDCG with linear
 * gain {@code rel / log2(rank + 1)} over graded judgements, recall of relevant documents (relevance > 0), and
 * reciprocal rank of the first relevant document.
 */
public final class RankingMetrics {
  private RankingMetrics() {}

  /** nDCG@k of a ranking (best first) against graded judgements; 0 when nothing is relevant. */
  public static double ndcg(List<String> ranking, Map<String, Integer> judged, int k) {
    double dcg = 0;
    for (int i = 0; i < Math.min(k, ranking.size()); i++) {
      int rel = judged.getOrDefault(ranking.get(i), 0);
      if (rel > 0) {
        dcg += rel / log2(i + 2);
      }
    }
    int[] ideal = judged.values().stream().filter(r -> r > 0).sorted((a, b) -> b - a).mapToInt(Integer::intValue).toArray();
    double idcg = 0;
    for (int i = 0; i < Math.min(k, ideal.length); i++) {
      idcg += ideal[i] / log2(i + 2);
    }
    return idcg == 0 ? 0 : dcg / idcg;
  }

  /** Fraction of relevant documents found in the top k; 0 when nothing is relevant. */
  public static double recall(List<String> ranking, Map<String, Integer> judged, int k) {
    long relevant = judged.values().stream().filter(r -> r > 0).count();
    if (relevant == 0) {
      return 0;
    }
    long found = ranking.stream().limit(k).filter(d -> judged.getOrDefault(d, 0) > 0).count();
    return (double) found / relevant;
  }

  /** 1 / rank of the first relevant document within the top k, else 0. */
  public static double mrr(List<String> ranking, Map<String, Integer> judged, int k) {
    for (int i = 0; i < Math.min(k, ranking.size()); i++) {
      if (judged.getOrDefault(ranking.get(i), 0) > 0) {
        return 1.0 / (i + 1);
      }
    }
    return 0;
  }

  private static double log2(double x) {
    return Math.log(x) / Math.log(2);
  }
}
