package io.d2search.eval;

import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * A score threshold that turns a pair scorer into a binary classifier: a pair is positive when its score is
 * strictly above {@link #value}. Fit it on one split ({@link #fit}) and measure it on another ({@link #accuracy}):
 * a threshold chosen on the split it is measured on would overstate accuracy.
 *
 * @param value the decision boundary; −∞ means every pair is positive
 * @param fitAccuracy accuracy on the split it was fitted on
 */
public record DecisionThreshold(double value, double fitAccuracy) {

  /**
   * The threshold with the highest accuracy on the given scores. Candidates are the midpoints between consecutive
   * distinct scores, plus −∞ (all positive) and the largest score (all negative); among equally accurate ones the
   * lowest wins, so the result is deterministic.
   *
   * @param positive gold label of each score
   * @throws IllegalArgumentException if the arrays are empty, differ in length or a score is NaN
   */
  public static DecisionThreshold fit(double[] scores, boolean[] positive) {
    check(scores, positive);
    int n = scores.length;
    int[] order = IntStream.range(0, n).boxed()
        .sorted(Comparator.comparingDouble(i -> scores[i])).mapToInt(Integer::intValue).toArray();
    int correct = 0; // with every pair predicted positive: the positives are right
    for (boolean p : positive) {
      correct += p ? 1 : 0;
    }
    int best = correct;
    double bestValue = Double.NEGATIVE_INFINITY;
    // Move pairs to the negative side in ascending score order; a threshold can only fall between distinct scores.
    for (int k = 0; k < n; k++) {
      correct += positive[order[k]] ? -1 : 1;
      double here = scores[order[k]];
      if (k + 1 < n && !(here < scores[order[k + 1]])) {
        continue;
      }
      if (correct > best) {
        best = correct;
        bestValue = k + 1 < n ? between(here, scores[order[k + 1]]) : here;
      }
    }
    return new DecisionThreshold(bestValue, (double) best / n);
  }

  /** Whether a score is classified positive: strictly above the threshold. */
  public boolean positive(double score) {
    return score > value;
  }

  /**
   * Share of pairs this threshold classifies correctly.
   *
   * @throws IllegalArgumentException if the arrays are empty, differ in length or a score is NaN
   */
  public double accuracy(double[] scores, boolean[] positive) {
    check(scores, positive);
    int correct = 0;
    for (int i = 0; i < scores.length; i++) {
      correct += positive(scores[i]) == positive[i] ? 1 : 0;
    }
    return (double) correct / scores.length;
  }

  /** A value in [a, b) that separates a (not above it) from b (above it), a < b. */
  private static double between(double a, double b) {
    double mid = a + (b - a) / 2; // a midpoint generalises better to another split than either edge
    // Adjacent doubles (or an overflowing b − a) can round the midpoint onto b; a itself still separates them.
    return mid < b && mid >= a ? mid : a;
  }

  private static void check(double[] scores, boolean[] positive) {
    if (scores.length != positive.length) {
      throw new IllegalArgumentException("lengths differ: " + scores.length + " scores, " + positive.length + " labels");
    }
    if (scores.length == 0) {
      throw new IllegalArgumentException("no scores");
    }
    for (int i = 0; i < scores.length; i++) {
      if (Double.isNaN(scores[i])) {
        throw new IllegalArgumentException("score " + i + " is NaN");
      }
    }
  }
}
