package io.d2search.eval;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Correlation of model scores with gold scores: Pearson's r and Spearman's ρ (Pearson's r of the ranks, tied values
 * sharing their average rank, as {@code scipy.stats.spearmanr} computes it). The standard STS metric is Spearman's
 * ρ: it depends only on how the model orders the pairs, not on its score scale.
 *
 * <p>(Apache Commons Math has both, but it is not on this project's classpath and is not worth a dependency.)
 */
public final class Correlation {
  private Correlation() {}

  /**
   * Spearman's rank correlation, with average ranks for ties.
   *
   * @return in [−1, 1]; NaN when fewer than two values or when either side is constant (ρ is undefined)
   * @throws IllegalArgumentException if the lengths differ or a value is NaN
   */
  public static double spearman(double[] x, double[] y) {
    checkLengths(x, y);
    return pearson(ranks(x), ranks(y));
  }

  /**
   * Pearson's correlation coefficient, computed around the means in double.
   *
   * @return in [−1, 1]; NaN when fewer than two values or when either side is constant
   * @throws IllegalArgumentException if the lengths differ or a value is NaN
   */
  public static double pearson(double[] x, double[] y) {
    checkLengths(x, y);
    checkNoNaN(x);
    checkNoNaN(y);
    int n = x.length;
    if (n < 2) {
      return Double.NaN;
    }
    double mx = mean(x);
    double my = mean(y);
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < n; i++) {
      double dx = x[i] - mx;
      double dy = y[i] - my;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) {
      return Double.NaN;
    }
    // Rounding can push |r| a hair past 1 for perfectly correlated inputs.
    return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
  }

  /**
   * Ranks 1…n of the values in ascending order; a run of equal values gets the average of the ranks it spans
   * (e.g. {@code [10, 20, 20, 30]} → {@code [1, 2.5, 2.5, 4]}).
   *
   * @return a new array, {@code ranks[i]} the rank of {@code values[i]}
   * @throws IllegalArgumentException if a value is NaN (it has no place in the order)
   */
  public static double[] ranks(double[] values) {
    checkNoNaN(values);
    int n = values.length;
    int[] order = IntStream.range(0, n).boxed()
        .sorted(Comparator.comparingDouble(i -> values[i])).mapToInt(Integer::intValue).toArray();
    double[] ranks = new double[n];
    for (int start = 0; start < n; ) {
      int end = start + 1;
      // == rather than Double.compare: −0.0 and 0.0 are the same score
      while (end < n && values[order[end]] == values[order[start]]) {
        end++;
      }
      double average = (start + 1 + end) / 2.0; // mean of the 1-based ranks start+1 … end
      for (int k = start; k < end; k++) {
        ranks[order[k]] = average;
      }
      start = end;
    }
    return ranks;
  }

  private static double mean(double[] v) {
    return Arrays.stream(v).sum() / v.length;
  }

  private static void checkLengths(double[] x, double[] y) {
    if (x.length != y.length) {
      throw new IllegalArgumentException("lengths differ: " + x.length + " vs " + y.length);
    }
  }

  private static void checkNoNaN(double[] v) {
    for (int i = 0; i < v.length; i++) {
      if (Double.isNaN(v[i])) {
        throw new IllegalArgumentException("value " + i + " is NaN");
      }
    }
  }
}
