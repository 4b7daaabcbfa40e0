package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class CorrelationTest {
  private static final double EPS = 1e-12;

  @Test
  void ranksAverageTies() {
    assertThat(Correlation.ranks(new double[] {10, 20, 20, 30})).containsExactly(1, 2.5, 2.5, 4);
    assertThat(Correlation.ranks(new double[] {3, 1, 2})).containsExactly(3, 1, 2);
    assertThat(Correlation.ranks(new double[] {7, 7, 7})).containsExactly(2, 2, 2);
    assertThat(Correlation.ranks(new double[] {0.0, -0.0, -1})).containsExactly(2.5, 2.5, 1);
    assertThat(Correlation.ranks(new double[0])).isEmpty();
  }

  @Test
  void spearmanMatchesHandComputedValuesWithTies() {
    // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]; centred dot 4.5, sums of squares 4.5 and 5: ρ = √0.9
    assertThat(Correlation.spearman(new double[] {1, 2, 2, 3}, new double[] {1, 3, 2, 4}))
        .isCloseTo(Math.sqrt(0.9), within(EPS));
    // ranks x = [4, 1, 2.5, 2.5, 6, 5], y = [6, 1, 2, 3, 4.5, 4.5]; centred dot 13.5, squares 17 and 17
    assertThat(Correlation.spearman(new double[] {3.5, 1.0, 2.0, 2.0, 5.0, 4.0},
        new double[] {0.9, 0.1, 0.4, 0.5, 0.7, 0.7})).isCloseTo(13.5 / 17, within(EPS));
    // ranks x = [2, 2, 2, 4], y = [1, 2, 3, 4]: 3 / √(3·5); scipy.stats.spearmanr gives 0.7745966692414834
    assertThat(Correlation.spearman(new double[] {1, 1, 1, 2}, new double[] {1, 2, 3, 4}))
        .isCloseTo(3 / Math.sqrt(15), within(EPS));
    // no ties: 1 − 6·Σd²/(n(n²−1)) with d = [0, 1, −1, 1, −1] → 1 − 24/120
    assertThat(Correlation.spearman(new double[] {1, 2, 3, 4, 5}, new double[] {1, 3, 2, 5, 4}))
        .isCloseTo(0.8, within(EPS));
  }

  @Test
  void pearsonMatchesHandComputedValue() {
    // centred x = [−2, −1, 0, 1, 2], y = [−1, −2, 1, 0, 2]: 8 / √(10·10)
    assertThat(Correlation.pearson(new double[] {1, 2, 3, 4, 5}, new double[] {2, 1, 4, 3, 5}))
        .isCloseTo(0.8, within(EPS));
  }

  @Test
  void undefinedCasesAreNaNAndBadInputIsRejected() {
    assertThat(Correlation.spearman(new double[] {1}, new double[] {2})).isNaN();
    assertThat(Correlation.spearman(new double[0], new double[0])).isNaN();
    assertThat(Correlation.spearman(new double[] {1, 1, 1}, new double[] {1, 2, 3})).isNaN();
    assertThatThrownBy(() -> Correlation.spearman(new double[] {1, 2}, new double[] {1}))
        .hasMessageContaining("lengths differ");
    assertThatThrownBy(() -> Correlation.spearman(new double[] {1, Double.NaN}, new double[] {1, 2}))
        .hasMessageContaining("NaN");
  }

  @Test
  void spearmanPropertiesHoldOnRandomData() {
    Random random = new Random(42);
    DoubleUnaryOperator[] increasing = {
        v -> Math.exp(v), v -> v * v * v, v -> 3 * v - 7, v -> Math.atan(v), v -> Math.signum(v) * Math.sqrt(Math.abs(v))};
    for (int trial = 0; trial < 200; trial++) {
      int n = 2 + random.nextInt(60);
      boolean ties = trial % 2 == 0;
      double[] x = sample(random, n, ties);
      double[] y = sample(random, n, ties);
      double rho = Correlation.spearman(x, y);
      if (Double.isNaN(rho)) {
        continue; // a constant sample: ρ is undefined
      }
      assertThat(rho).isBetween(-1.0, 1.0);
      assertThat(Correlation.spearman(y, x)).isCloseTo(rho, within(EPS));
      assertThat(Correlation.spearman(x, x)).isCloseTo(1.0, within(EPS));
      assertThat(Correlation.spearman(x, negate(x))).isCloseTo(-1.0, within(EPS));
      assertThat(Correlation.spearman(x, negate(y))).isCloseTo(-rho, within(EPS));
      // strictly increasing maps keep every order and every tie, so ρ does not move
      DoubleUnaryOperator f = increasing[trial % increasing.length];
      assertThat(Correlation.spearman(map(x, f), y)).isCloseTo(rho, within(EPS));
      // ρ is Pearson's r of the ranks, and the ranks of ranks are the ranks
      assertThat(Correlation.pearson(Correlation.ranks(x), Correlation.ranks(y))).isCloseTo(rho, within(EPS));
      assertThat(Correlation.ranks(Correlation.ranks(x))).containsExactly(Correlation.ranks(x));
      if (!ties) {
        assertThat(rho).isCloseTo(classicFormula(x, y), within(1e-9));
      }
    }
  }

  @Test
  void ranksSumToTriangularNumber() {
    Random random = new Random(7);
    for (int trial = 0; trial < 50; trial++) {
      int n = 1 + random.nextInt(100);
      double sum = 0;
      for (double r : Correlation.ranks(sample(random, n, true))) {
        sum += r;
      }
      assertThat(sum).isCloseTo(n * (n + 1) / 2.0, within(1e-9));
    }
  }

  /** Values in [−2, 2); with ties, drawn from 5 levels so most samples repeat values. */
  private static double[] sample(Random random, int n, boolean ties) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = ties ? random.nextInt(5) - 2 : random.nextDouble() * 4 - 2;
    }
    return v;
  }

  private static double[] negate(double[] v) {
    return map(v, x -> -x);
  }

  private static double[] map(double[] v, DoubleUnaryOperator f) {
    return java.util.Arrays.stream(v).map(f).toArray();
  }

  /** 1 − 6Σd²/(n(n²−1)): exact when there are no ties. */
  private static double classicFormula(double[] x, double[] y) {
    double[] rx = Correlation.ranks(x);
    double[] ry = Correlation.ranks(y);
    double d2 = 0;
    for (int i = 0; i < rx.length; i++) {
      d2 += (rx[i] - ry[i]) * (rx[i] - ry[i]);
    }
    int n = rx.length;
    return 1 - 6 * d2 / ((double) n * ((double) n * n - 1));
  }
}
