package io.d2search.teach;

/**
 * A logistic map from a real-valued score to a probability: {@code σ(slope · x + offset)}.
 *
 * <p>{@link #fit} is Platt scaling as made robust by Lin, Lin and Weng (2007, "A note on Platt's probabilistic
 * outputs for support vector machines"): maximum likelihood of the two parameters by Newton's method with a
 * backtracking line search, on Platt's smoothed targets ({@code (N₊ + 1) / (N₊ + 2)} for positives, {@code 1 /
 * (N₋ + 2)} for negatives) so that separable data do not drive the slope to infinity.
 *
 * @param slope multiplies the score; positive when higher scores mean more relevant
 * @param offset added before the logistic
 */
public record Calibration(double slope, double offset) {

  /** The identity-like default: {@code σ(x)}. */
  public static final Calibration IDENTITY = new Calibration(1, 0);

  public Calibration {
    if (!Double.isFinite(slope) || !Double.isFinite(offset)) {
      throw new IllegalArgumentException("slope and offset must be finite: " + slope + ", " + offset);
    }
  }

  /** {@code σ(slope · x + offset)}, in {@code [0, 1]}. */
  public double apply(double x) {
    return YesNoLogprobs.sigmoid(slope * x + offset);
  }

  /**
   * Fits slope and offset to labelled scores.
   *
   * @param scores one score per example
   * @param relevant the label of each example
   * @param maxIterations Newton iterations at most (each with a line search); 100 is plenty
   * @throws IllegalArgumentException if the arrays differ in length or hold no example of one label
   */
  public static Calibration fit(double[] scores, boolean[] relevant, int maxIterations) {
    if (scores.length != relevant.length) {
      throw new IllegalArgumentException(scores.length + " scores but " + relevant.length + " labels");
    }
    int pos = 0;
    for (boolean r : relevant) {
      pos += r ? 1 : 0;
    }
    int neg = scores.length - pos;
    if (pos == 0 || neg == 0) {
      throw new IllegalArgumentException("need both relevant and non-relevant examples: " + pos + ", " + neg);
    }
    double hi = (pos + 1.0) / (pos + 2.0);
    double lo = 1.0 / (neg + 2.0);
    double[] t = new double[scores.length];
    for (int i = 0; i < t.length; i++) {
      t[i] = relevant[i] ? hi : lo;
    }
    // Lin-Lin-Weng parameterisation: P(relevant | x) = 1 / (1 + exp(a·x + b)), so a = -slope, b = -offset.
    double a = 0;
    double b = Math.log((neg + 1.0) / (pos + 1.0));
    double f = objective(scores, t, a, b);
    for (int it = 0; it < maxIterations; it++) {
      double h11 = 1e-12;
      double h22 = 1e-12;
      double h21 = 0;
      double g1 = 0;
      double g2 = 0;
      for (int i = 0; i < scores.length; i++) {
        double z = scores[i] * a + b;
        double p;
        double q;
        if (z >= 0) {
          p = Math.exp(-z) / (1 + Math.exp(-z));
          q = 1 / (1 + Math.exp(-z));
        } else {
          p = 1 / (1 + Math.exp(z));
          q = Math.exp(z) / (1 + Math.exp(z));
        }
        double d2 = p * q;
        h11 += scores[i] * scores[i] * d2;
        h22 += d2;
        h21 += scores[i] * d2;
        double d1 = t[i] - p;
        g1 += scores[i] * d1;
        g2 += d1;
      }
      if (Math.abs(g1) < 1e-5 && Math.abs(g2) < 1e-5) {
        break;
      }
      double det = h11 * h22 - h21 * h21;
      double da = -(h22 * g1 - h21 * g2) / det;
      double db = -(-h21 * g1 + h11 * g2) / det;
      double gd = g1 * da + g2 * db;
      double step = 1;
      while (step >= 1e-10) {
        double na = a + step * da;
        double nb = b + step * db;
        double nf = objective(scores, t, na, nb);
        if (nf < f + 1e-4 * step * gd) {
          a = na;
          b = nb;
          f = nf;
          break;
        }
        step /= 2;
      }
      if (step < 1e-10) {
        break; // line search failed: as good as it gets
      }
    }
    return new Calibration(-a, -b);
  }

  private static double objective(double[] x, double[] t, double a, double b) {
    double f = 0;
    for (int i = 0; i < x.length; i++) {
      double z = x[i] * a + b;
      f += z >= 0 ? t[i] * z + Math.log1p(Math.exp(-z)) : (t[i] - 1) * z + Math.log1p(Math.exp(z));
    }
    return f;
  }
}
