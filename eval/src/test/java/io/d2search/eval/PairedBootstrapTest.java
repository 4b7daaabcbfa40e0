package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class PairedBootstrapTest {
  @Test
  void aConstantDifferenceHasNoSpread() {
    double[] b = {0.1, 0.5, 0.9, 0.3};
    double[] a = {0.15, 0.55, 0.95, 0.35};
    PairedBootstrap.Interval i = PairedBootstrap.meanDifference(a, b, 1);
    assertThat(i.mean()).isCloseTo(0.05, within(1e-12));
    assertThat(i.low()).isCloseTo(0.05, within(1e-12));
    assertThat(i.high()).isCloseTo(0.05, within(1e-12));
    assertThat(i.excludesZero()).isTrue();
    PairedBootstrap.Interval none = PairedBootstrap.meanDifference(b, b, 1);
    assertThat(none).isEqualTo(new PairedBootstrap.Interval(0, 0, 0));
    assertThat(none.excludesZero()).isFalse();
  }

  /** Differences drawn from N(μ, 1): the interval holds μ and is about ±1.96/√n wide, as the normal theory says. */
  @RepeatedTest(5)
  void matchesTheNormalIntervalOnNormalDifferences() {
    Random r = new Random();
    int n = 1000 + r.nextInt(1000);
    double mu = r.nextDouble() * 0.2 - 0.1;
    double[] a = new double[n];
    double[] b = new double[n];
    for (int i = 0; i < n; i++) {
      b[i] = r.nextDouble();
      a[i] = b[i] + mu + r.nextGaussian();
    }
    PairedBootstrap.Interval i = PairedBootstrap.meanDifference(a, b, r.nextLong());
    double sd = 0;
    for (int q = 0; q < n; q++) {
      sd += Math.pow(a[q] - b[q] - i.mean(), 2);
    }
    double halfWidth = 1.96 * Math.sqrt(sd / (n - 1)) / Math.sqrt(n);
    assertThat(i.low()).isLessThan(i.mean());
    assertThat(i.high()).isGreaterThan(i.mean());
    assertThat(i.high() - i.low()).isCloseTo(2 * halfWidth, within(0.15 * 2 * halfWidth));
    // the observed mean is within 5 standard errors of μ (fails about once in 3.5 million runs)
    assertThat(i.mean()).isCloseTo(mu, within(5 * halfWidth / 1.96));
  }

  @Test
  void theSameSeedGivesTheSameIntervalAndBadInputIsRefused() {
    double[] a = {0.1, 0.9, 0.4, 0.7, 0.2};
    double[] b = {0.3, 0.2, 0.4, 0.1, 0.5};
    assertThat(PairedBootstrap.meanDifference(a, b, 7)).isEqualTo(PairedBootstrap.meanDifference(a, b, 7));
    assertThatThrownBy(() -> PairedBootstrap.meanDifference(a, new double[] {1}, 7))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("equally long");
    assertThatThrownBy(() -> PairedBootstrap.meanDifference(new double[] {Double.NaN}, new double[] {1}, 7))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
  }
}
