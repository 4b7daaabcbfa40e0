package io.d2search.testkit;

import java.util.Random;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Seeded randomness for randomized tests, as Lucene's tests do it: the seed comes from {@code -Dtests.seed} or the
 * clock and is logged with the test's name, so a failure replays; {@code -Dtests.multiplier} scales the work (e.g.
 * for nightly runs).
 */
public final class Randomized {
  private static final Logger log = LoggerFactory.getLogger(Randomized.class);

  private Randomized() {}

  /** A seed for one test, logged with the test's name. */
  public static long seed(String test) {
    long seed = Long.getLong("tests.seed", System.nanoTime());
    log.info("{}: seed {} (replay with -Dtests.seed={})", test, seed, seed);
    return seed;
  }

  /** A new Random seeded by {@link #seed(String)}. */
  public static Random random(String test) {
    return new Random(seed(test));
  }

  /** {@code n} times the multiplier (1 by default). */
  public static int atLeast(int n) {
    return n * Integer.getInteger("tests.multiplier", 1);
  }

  /** At least {@code n} times the multiplier, plus up to half of that again at random. */
  public static int atLeast(Random random, int n) {
    int min = atLeast(n);
    return min + random.nextInt(min / 2 + 1);
  }

  /** A random unit vector: Gaussian components, normalised, so directions are uniform on the sphere. */
  public static float[] unitVector(Random random, int dimension) {
    float[] v = new float[dimension];
    double sumSquares = 0;
    for (int i = 0; i < dimension; i++) {
      v[i] = (float) random.nextGaussian();
      sumSquares += v[i] * v[i];
    }
    float norm = (float) Math.sqrt(sumSquares);
    for (int i = 0; i < dimension; i++) {
      v[i] /= norm;
    }
    return v;
  }
}
