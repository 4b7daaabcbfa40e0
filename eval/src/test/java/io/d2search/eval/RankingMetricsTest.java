package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RankingMetricsTest {
  private static final double LOG2_3 = Math.log(3) / Math.log(2);

  @Test
  void ndcgMatchesHandComputedValues() {
    Map<String, Integer> judged = Map.of("a", 1, "b", 2, "z", 0);
    // DCG = 1/log2(2) [a at rank 1] + 2/log2(4) [b at rank 3] = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3)
    double expected = 2.0 / (2.0 + 1.0 / LOG2_3);
    assertThat(RankingMetrics.ndcg(List.of("a", "x", "b"), judged, 10)).isCloseTo(expected, within(1e-12));
    assertThat(RankingMetrics.ndcg(List.of("b", "a"), judged, 10)).isCloseTo(1.0, within(1e-12));
    assertThat(RankingMetrics.ndcg(List.of("x", "a", "b"), judged, 1)).isZero();
    assertThat(RankingMetrics.ndcg(List.of("a"), Map.of("a", 0), 10)).isZero();
  }

  @Test
  void recallCountsOnlyRelevantWithinDepth() {
    Map<String, Integer> judged = Map.of("a", 1, "b", 1, "c", 0);
    assertThat(RankingMetrics.recall(List.of("c", "a", "x"), judged, 100)).isEqualTo(0.5);
    assertThat(RankingMetrics.recall(List.of("c", "x", "a", "b"), judged, 3)).isEqualTo(0.5);
    assertThat(RankingMetrics.recall(List.of("b", "a"), judged, 2)).isEqualTo(1.0);
  }

  @Test
  void mrrIsReciprocalRankOfFirstRelevant() {
    Map<String, Integer> judged = Map.of("a", 1);
    assertThat(RankingMetrics.mrr(List.of("x", "y", "a"), judged, 10)).isCloseTo(1 / 3.0, within(1e-12));
    assertThat(RankingMetrics.mrr(List.of("x", "y", "a"), judged, 2)).isZero();
  }

  @Test
  void gapClosedIsTheShareOfTheTeachersAdvantage() {
    assertThat(Evaluation.gapClosed(0.70, 0.60, 0.80)).isCloseTo(0.5, within(1e-12));
    assertThat(Evaluation.gapClosed(0.55, 0.60, 0.80)).isCloseTo(-0.25, within(1e-12));
    assertThat(Evaluation.gapClosed(0.7, 0.6, 0.6)).isNaN();
  }

  @Test
  void topDocsKeepsBestPassagePerDocument() {
    TopDocs top = new TopDocs();
    top.offer("d1", 0.2);
    top.offer("d2", 0.5);
    top.offer("d1", 0.9);
    top.offer("d3", 0.1);
    assertThat(top.top(2)).containsExactly(new ScoredDoc("d1", 0.9), new ScoredDoc("d2", 0.5));
  }

  @Test
  void topDocsTiesKeepTheOrderInWhichTheBestScoreWasFirstOffered() {
    // The re-ranker's rule: equal scores keep the first stage's order (not the ids' order).
    TopDocs top = new TopDocs();
    top.offer("z", 0.5);
    top.offer("a", 0.9);
    top.offer("m", 0.5);
    top.offer("b", 0.9);
    top.offer("z", 0.9); // z reaches 0.9 after a and b did
    top.offer("a", 0.9); // a second passage at its best changes nothing
    assertThat(top.top(10)).containsExactly(new ScoredDoc("a", 0.9), new ScoredDoc("b", 0.9), new ScoredDoc("z", 0.9),
        new ScoredDoc("m", 0.5));
    assertThat(top.top(2)).containsExactly(new ScoredDoc("a", 0.9), new ScoredDoc("b", 0.9));
  }
}
