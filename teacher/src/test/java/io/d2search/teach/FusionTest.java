package io.d2search.teach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.ScoredDoc;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The ensemble's pure parts: BM25 against Lucene, z-scoring and fusion, Platt scaling. */
class FusionTest {

  @Test
  void bm25MatchesLuceneOnShortDocuments() throws Exception {
    // Lengths below 24 tokens are stored exactly in Lucene's one-byte norms, so the scores must agree.
    List<String> corpus = List.of(
        "Vitamin D supplementation and the risk of hip fractures in older women",
        "Fractures of the wrist are common in children",
        "Calcium intake, vitamin D status and bone density",
        "The stock market rallied on Friday",
        "Hip fracture surgery outcomes in the elderly",
        "Vitamin C and the common cold");
    List<EvalPassage> passages = new ArrayList<>();
    for (int i = 0; i < corpus.size(); i++) {
      passages.add(new EvalPassage("d" + i + "#0", "d" + i, 0, "", corpus.get(i)));
    }
    String query = "does vitamin D prevent hip fractures?";
    Map<String, Double> lucene;
    try (Bm25Retriever retriever = new Bm25Retriever(passages)) {
      lucene = retriever.search(query, 10).stream().collect(Collectors.toMap(ScoredDoc::docId, ScoredDoc::score));
    }
    try (Bm25 bm25 = new Bm25(Bm25.statistics(corpus))) {
      double[] ours = bm25.score(query, corpus);
      for (int i = 0; i < corpus.size(); i++) {
        assertThat(ours[i]).as(corpus.get(i)).isCloseTo(lucene.getOrDefault("d" + i, 0.0), within(1e-4));
      }
      assertThat(ours[3]).isZero();
      // With corpus statistics, a passage's score does not depend on the other candidates.
      assertThat(bm25.score(query, List.of(corpus.get(0)))[0]).isEqualTo(ours[0]);
      assertThat(bm25.stats().fingerprint()).hasSize(16);
      double mass = bm25.idfMass(query, corpus);
      for (double v : ours) {
        assertThat(v / mass).isBetween(0.0, 1.0);
      }
    }
    try (Bm25 local = new Bm25(null)) {
      assertThat(local.score(query, corpus)[0]).isGreaterThan(0);
      assertThat(local.score("the", corpus)).containsOnly(0.0);
    }
  }

  @Test
  void zScoresHaveZeroMeanAndUnitVarianceAndConstantsGiveZero() {
    double[] z = EnsembleTeacher.zScores(new double[] {1, 2, 3, 4, 10});
    assertThat(java.util.Arrays.stream(z).sum()).isCloseTo(0, within(1e-12));
    assertThat(java.util.Arrays.stream(z).map(v -> v * v).sum() / z.length).isCloseTo(1, within(1e-12));
    assertThat(EnsembleTeacher.zScores(new double[] {0.7, 0.7, 0.7})).containsOnly(0.0);
    assertThat(EnsembleTeacher.zScores(new double[] {0.3})).containsOnly(0.0);
    assertThat(EnsembleTeacher.zScores(new double[0])).isEmpty();
  }

  @Test
  void fusionIsTheWeightedSumOfZScoresThroughTheCalibration() {
    List<String> names = List.of("a", "b", "bm25");
    double[][] raw = {{0.9, 0.5, 0.1}, {0.2, 0.4, 0.6}, {12, 0, 3}};
    List<Double> w = List.of(1.0, 0.5, 0.25);
    Calibration cal = new Calibration(2, -1);
    EnsembleTeacher.Scores s = EnsembleTeacher.fuse(names, raw, w, Normalization.perCall(), cal);
    for (int i = 0; i < 3; i++) {
      double fused = 0;
      for (int c = 0; c < 3; c++) {
        fused += w.get(c) * EnsembleTeacher.zScores(raw[c])[i];
      }
      assertThat(s.fused()[i]).isCloseTo(fused, within(1e-12));
      assertThat(s.probabilities()[i]).isCloseTo(1 / (1 + Math.exp(-(2 * fused - 1))), within(1e-12));
    }
    // Scale of a component does not matter, only its order and spread.
    double[][] scaled = {{9, 5, 1}, raw[1], raw[2]};
    assertThat(EnsembleTeacher.fuse(names, scaled, w, Normalization.perCall(), cal).fused()).usingComparatorWithPrecision(1e-12)
        .containsExactly(s.fused());
  }

  @Test
  void globalNormalizationIsPointwise() {
    List<String> names = List.of("a", "bm25");
    Normalization global = Normalization.global(List.of(0.5, 0.2), List.of(0.1, 0.05));
    List<Double> w = List.of(0.7, 0.3);
    Calibration cal = new Calibration(1.5, -2);
    double[][] raw = {{0.9, 0.5, 0.1}, {0.4, 0.0, 0.2}};
    EnsembleTeacher.Scores all = EnsembleTeacher.fuse(names, raw, w, global, cal);
    assertThat(all.fused()[0]).isCloseTo(0.7 * (0.9 - 0.5) / 0.1 + 0.3 * (0.4 - 0.2) / 0.05, within(1e-12));
    // The same pair alone scores the same: no dependence on the other candidates.
    EnsembleTeacher.Scores alone = EnsembleTeacher.fuse(names, new double[][] {{0.9}, {0.4}}, w, global, cal);
    assertThat(alone.probabilities()[0]).isEqualTo(all.probabilities()[0]);
    // Per call, the same pair alone gets the constant σ(offset).
    EnsembleTeacher.Scores perCallAlone = EnsembleTeacher.fuse(names, new double[][] {{0.9}, {0.4}}, w,
        Normalization.perCall(), cal);
    assertThat(perCallAlone.probabilities()[0]).isCloseTo(1 / (1 + Math.exp(2)), within(1e-12));
    assertThatThrownBy(() -> Normalization.global(List.of(0.0), List.of(0.0)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void plattScalingRecoversAKnownLogistic() {
    Random random = new Random(42);
    int n = 20_000;
    double[] x = new double[n];
    boolean[] y = new boolean[n];
    for (int i = 0; i < n; i++) {
      x[i] = random.nextGaussian() * 2;
      y[i] = random.nextDouble() < 1 / (1 + Math.exp(-(1.7 * x[i] - 2.0)));
    }
    Calibration c = Calibration.fit(x, y, 100);
    assertThat(c.slope()).isCloseTo(1.7, within(0.1));
    assertThat(c.offset()).isCloseTo(-2.0, within(0.1));
    assertThat(c.apply(10)).isGreaterThan(0.99);
    // Separable data stay finite thanks to the smoothed targets.
    Calibration sep = Calibration.fit(new double[] {-2, -1, 1, 2}, new boolean[] {false, false, true, true}, 100);
    assertThat(sep.slope()).isPositive().isFinite();
    assertThatThrownBy(() -> Calibration.fit(new double[] {1, 2}, new boolean[] {true, true}, 10))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void configNeedsOneWeightPerComponent() {
    EnsembleConfig d = EnsembleConfig.defaults();
    assertThat(d.componentNames()).containsExactly("bge-small-en-v1.5", "e5-small-v2", "bm25");
    assertThatThrownBy(() -> d.withWeights(List.of(1.0, 1.0))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3 weights");
    Function<Double, List<Double>> w = x -> List.of(x, 1.0, 1.0);
    assertThatThrownBy(() -> d.withWeights(w.apply(Double.NaN))).isInstanceOf(IllegalArgumentException.class);
  }
}
