package io.d2search.loop;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.events.PassageEmbedding;
import io.d2search.index.Fusion;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageRanker;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHeads;
import io.d2search.rank.Reranker;
import io.d2search.testkit.Randomized;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gate on a real index: queries are perturbed passage vectors whose own passage was "clicked", so the first
 * stage ranks the click high; a candidate that reverses the order must be refused, one that ranks as the current
 * release cannot pass a zero margin (no gain) but passes a non-inferiority margin, and too few queries give no
 * verdict.
 */
class ReleaseGateTest {
  private static final int DIM = 32;
  private static final int PASSAGES = 200;
  private static final DistillerConfig.GateConfig GATE = new DistillerConfig.GateConfig(20, 0.0, 0.02, 10, 1);

  @TempDir Path dir;
  private PassageIndex index;
  private final Map<String, float[]> queryVectors = new HashMap<>();
  private final List<FeedbackList> lists = new ArrayList<>();

  @BeforeEach
  void build(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    index = PassageIndex.open(dir.resolve("index"), "0", IndexConfig.defaults());
    float[][] vectors = new float[PASSAGES][];
    for (int i = 0; i < PASSAGES; i++) {
      vectors[i] = Randomized.unitVector(random, DIM);
      List<Float> v = new ArrayList<>();
      for (float x : vectors[i]) {
        v.add(x);
      }
      index.upsert("p" + i + "#0", PassageEmbedding.newBuilder().setDocId("p" + i).setN(0).setModelVersion("0")
          .setVector(v).setTextHash("").setTitle(null).setText("passage " + i).setDocVersion(1).build());
    }
    index.commit(Map.of());
    index.refresh();
    for (int q = 0; q < 40; q++) {
      int target = random.nextInt(PASSAGES);
      float[] query = vectors[target].clone();
      for (int j = 0; j < DIM; j++) {
        query[j] += (float) (random.nextGaussian() * 0.05);
      }
      queryVectors.put("query " + q, normalised(query));
      lists.add(new FeedbackList("q" + q, "query " + q, List.of("p" + target + "#0"), List.of(1 + random.nextInt(3)),
          List.of(), "0", 0));
    }
  }

  @AfterEach
  void close() {
    index.close();
  }

  @Test
  void aCandidateThatReversesTheOrderIsRefusedWithTheFigures() {
    ReleaseGate.Verdict v = new ReleaseGate(GATE, 1).judge(lists, index, queryVectors::get, ranker(null, 0),
        ranker(new Reranker(IemHeads.negatedSimilarity(DIM)), 0), RetrievalMode.VECTOR);
    assertThat(v.passed()).isFalse();
    assertThat(v.queries()).isEqualTo(40);
    assertThat(v.currentNdcg()).isGreaterThan(0.9);
    assertThat(v.candidateNdcg()).isLessThan(0.2);
    assertThat(v.high()).isLessThan(0);
    assertThat(v.reason()).contains("not above the margin");
    assertThat(v.metrics()).containsEntry("gate.queries", 40.0).containsKey("gate.ndcg.diff.low");
  }

  @Test
  void noGainPassesOnlyANonInferiorityMargin() {
    ReleaseGate.Verdict same = new ReleaseGate(GATE, 1).judge(lists, index, queryVectors::get, ranker(null, 0),
        ranker(null, 0), RetrievalMode.VECTOR);
    assertThat(same.passed()).isFalse();
    assertThat(same.low()).isZero();
    assertThat(same.high()).isZero();
    DistillerConfig.GateConfig lenient = new DistillerConfig.GateConfig(20, -0.01, 0.02, 10, 1);
    assertThat(new ReleaseGate(lenient, 1).judge(lists, index, queryVectors::get, ranker(null, 0), ranker(null, 0),
        RetrievalMode.VECTOR).passed()).isTrue();
  }

  @Test
  void tooFewHeldOutQueriesGiveNoVerdict() {
    ReleaseGate.Verdict v = new ReleaseGate(GATE, 1).judge(lists.subList(0, 19), index, queryVectors::get,
        ranker(null, 0), ranker(null, 0), RetrievalMode.VECTOR);
    assertThat(v.passed()).isFalse();
    assertThat(v.reason()).contains("only 19 held-out feedback queries");
  }

  @Test
  void judgedQueriesAreRankedByDocumentAndGradedByTheirJudgements() {
    List<ReleaseGate.JudgedQuery> judged = lists.stream().map(l -> new ReleaseGate.JudgedQuery(l.query(),
        Map.of(l.positives().get(0).substring(0, l.positives().get(0).indexOf('#')), 2))).toList();
    ReleaseGate gate = new ReleaseGate(GATE, 1);
    ReleaseGate.Verdict worse = gate.judgeJudged(judged, index, queryVectors::get, ranker(null, 0),
        ranker(new Reranker(IemHeads.negatedSimilarity(DIM)), 0), RetrievalMode.VECTOR);
    assertThat(worse.passed()).isFalse();
    assertThat(worse.currentNdcg()).isGreaterThan(0.9);
    assertThat(worse.high()).isLessThan(0);
    assertThat(worse.reason()).startsWith("held-out judged queries:");
    assertThat(worse.metrics("gate.judged.")).containsKey("gate.judged.ndcg.current");
  }

  @Test
  void aClickShownDeepCountsMoreThanOneShownFirst() {
    DistillerConfig.GateConfig gate = new DistillerConfig.GateConfig(2, 0, 0, 10, 1);
    assertThat(gate.weight(1)).isEqualTo(1);
    assertThat(gate.weight(4)).isEqualTo(4);
    assertThat(gate.weight(50)).isEqualTo(DistillerConfig.GateConfig.MAX_WEIGHT);
    assertThat(gate.weight(0)).as("unknown rank").isEqualTo(1);
    assertThat(new DistillerConfig.GateConfig(2, 0, 0, 10, 0).weight(7)).isEqualTo(1);
    // Two clicks, one shown at rank 1 (weight 1), one at rank 4 (weight 4): ranking the deep one first is better.
    Map<String, Double> gains = Map.of("a", 1.0, "b", 4.0);
    double deepFirst = ReleaseGate.ndcg(List.of("b", "a", "x"), gains, 10);
    double shallowFirst = ReleaseGate.ndcg(List.of("a", "b", "x"), gains, 10);
    assertThat(deepFirst).isEqualTo(1.0);
    assertThat(shallowFirst).isLessThan(deepFirst);
    assertThat(ReleaseGate.recall(List.of("b", "x"), gains, 10)).isEqualTo(0.8);
    assertThat(ReleaseGate.ndcg(List.of("x"), Map.of(), 10)).isZero();
  }

  private static PassageRanker ranker(Reranker reranker, double firstStageWeight) {
    return new PassageRanker(Fusion.DEFAULT, reranker, 100, firstStageWeight);
  }

  private static float[] normalised(float[] v) {
    double n = 0;
    for (float x : v) {
      n += x * x;
    }
    float s = (float) (1 / Math.sqrt(n));
    for (int i = 0; i < v.length; i++) {
      v[i] *= s;
    }
    return v;
  }
}
