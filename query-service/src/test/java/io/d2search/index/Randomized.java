package io.d2search.index;

import java.util.Random;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Seeded randomness for property tests: the seed is logged, and {@code -Dtests.seed=N} replays a failure.
 * {@code -Dtests.multiplier=M} scales {@link #atLeast(int)} for longer runs.
 */
public final class Randomized {
  private static final Logger log = LoggerFactory.getLogger(Randomized.class);

  private Randomized() {}

  /** A new seeded Random; logs the seed under the test's name. */
  public static Random random(String testName) {
    long seed = Long.getLong("tests.seed", System.nanoTime());
    log.info("{}: seed {} (replay with -Dtests.seed={})", testName, seed, seed);
    return new Random(seed);
  }

  /** {@code n} times the multiplier (1 by default). */
  public static int atLeast(int n) {
    return n * Integer.getInteger("tests.multiplier", 1);
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
