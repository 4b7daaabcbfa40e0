package io.d2search.testing;

import java.util.Random;

/** Seeded randomness for property tests: every failure reproduces with {@code -Dtests.seed=<printed seed>}. */
public final class Seeds {
  private Seeds() {}

  /** The seed: {@code -Dtests.seed} if given, else a fresh one. Printed so a failing run can be replayed. */
  public static long seed(String test) {
    long seed = Long.getLong("tests.seed", System.nanoTime());
    System.out.println(test + ": seed " + seed + " (replay with -Dtests.seed=" + seed + ")");
    return seed;
  }

  /** A {@link Random} on {@link #seed}. */
  public static Random random(String test) {
    return new Random(seed(test));
  }

  /** Gaussian values with the given standard deviation. */
  public static float[] gaussian(Random random, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (random.nextGaussian() * std);
    }
    return v;
  }

  /** A random unit vector. */
  public static float[] unit(Random random, int n) {
    float[] v = gaussian(random, n, 1);
    double norm = 0;
    for (float x : v) {
      norm += x * x;
    }
    for (int i = 0; i < n; i++) {
      v[i] /= (float) Math.sqrt(norm);
    }
    return v;
  }

  /** Cosine similarity, in double. */
  public static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  /** Largest absolute element-wise difference. */
  public static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs((double) a[i] - b[i]));
    }
    return max;
  }
}
