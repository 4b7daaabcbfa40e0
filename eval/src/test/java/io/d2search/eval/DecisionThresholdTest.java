package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class DecisionThresholdTest {

  @Test
  void separableScoresGetTheMidpointAndFullAccuracy() {
    DecisionThreshold t = DecisionThreshold.fit(new double[] {0.1, 0.9, 0.3, 0.7}, new boolean[] {false, true, false, true});
    assertThat(t.value()).isCloseTo(0.5, within(1e-12));
    assertThat(t.fitAccuracy()).isEqualTo(1.0);
    assertThat(t.positive(0.51)).isTrue();
    assertThat(t.positive(0.5)).isFalse();
  }

  @Test
  void handComputedBestSplitWithTiesAndNoise() {
    // sorted: 0.2- 0.4+ 0.4- 0.6+ 0.8- 0.9+ 0.9+; splits (negatives | positives) and correct counts:
    // −∞: 4 | above 0.2: 5 | above 0.4: 5 (the tie moves together) | above 0.6: 4 | above 0.8: 5 | above 0.9: 3.
    // Three splits reach 5/7; the lowest, at the midpoint 0.3, wins.
    double[] scores = {0.9, 0.4, 0.2, 0.6, 0.4, 0.8, 0.9};
    boolean[] positive = {true, true, false, true, false, false, true};
    DecisionThreshold t = DecisionThreshold.fit(scores, positive);
    assertThat(t.value()).isCloseTo(0.3, within(1e-12));
    assertThat(t.fitAccuracy()).isCloseTo(5 / 7.0, within(1e-12));
    assertThat(t.accuracy(scores, positive)).isCloseTo(5 / 7.0, within(1e-12));
  }

  @Test
  void allOneClassFitsTheTrivialClassifier() {
    assertThat(DecisionThreshold.fit(new double[] {1, 2}, new boolean[] {true, true}).value())
        .isEqualTo(Double.NEGATIVE_INFINITY);
    DecisionThreshold none = DecisionThreshold.fit(new double[] {1, 2}, new boolean[] {false, false});
    assertThat(none.value()).isEqualTo(2.0);
    assertThat(none.accuracy(new double[] {1, 2}, new boolean[] {false, false})).isEqualTo(1.0);
  }

  @Test
  void appliedToAnotherSplitTheFittedValueIsKept() {
    DecisionThreshold dev = DecisionThreshold.fit(new double[] {0, 1}, new boolean[] {false, true});
    // on "test" the best threshold would be 2.5, but the dev threshold 0.5 is what is measured
    assertThat(dev.accuracy(new double[] {2, 3, 1, 4}, new boolean[] {false, true, false, true})).isEqualTo(0.5);
  }

  @Test
  void badInputIsRejected() {
    assertThatThrownBy(() -> DecisionThreshold.fit(new double[0], new boolean[0])).hasMessageContaining("no scores");
    assertThatThrownBy(() -> DecisionThreshold.fit(new double[] {1}, new boolean[2])).hasMessageContaining("lengths");
    assertThatThrownBy(() -> DecisionThreshold.fit(new double[] {Double.NaN}, new boolean[1]))
        .hasMessageContaining("NaN");
  }

  @Test
  void fitIsOptimalAmongAllThresholdsOnRandomData() {
    Random random = new Random(3);
    for (int trial = 0; trial < 300; trial++) {
      int n = 1 + random.nextInt(40);
      double[] scores = new double[n];
      boolean[] positive = new boolean[n];
      int positives = 0;
      for (int i = 0; i < n; i++) {
        positive[i] = random.nextBoolean();
        positives += positive[i] ? 1 : 0;
        // informative but noisy, rounded so that ties occur
        scores[i] = Math.round((positive[i] ? 0.5 : 0) + random.nextGaussian() * 0.5 * 4) / 4.0;
      }
      DecisionThreshold t = DecisionThreshold.fit(scores, positive);
      assertThat(t.accuracy(scores, positive)).isCloseTo(t.fitAccuracy(), within(1e-12));
      // brute force: every score itself and −∞ as threshold covers every possible split
      TreeSet<Double> candidates = new TreeSet<>();
      candidates.add(Double.NEGATIVE_INFINITY);
      for (double s : scores) {
        candidates.add(s);
      }
      double best = 0;
      for (double c : candidates) {
        best = Math.max(best, new DecisionThreshold(c, Double.NaN).accuracy(scores, positive));
      }
      assertThat(t.fitAccuracy()).isCloseTo(best, within(1e-12));
      assertThat(t.fitAccuracy()).isGreaterThanOrEqualTo(Math.max(positives, n - positives) / (double) n - 1e-12);
    }
  }
}
