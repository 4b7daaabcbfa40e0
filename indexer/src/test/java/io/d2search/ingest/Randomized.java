package io.d2search.ingest;

import java.util.Random;

/**
 * Seeds and sizes for randomized tests. The seed comes from {@code -Dtests.seed} or the clock and is printed, so a
 * failure reproduces; {@code -Dtests.multiplier} scales the work (e.g. for nightly runs).
 */
public final class Randomized {
  private Randomized() {}

  /** A seed for one test, printed with the test's name. */
  public static long seed(String test) {
    long seed = Long.getLong("tests.seed", System.nanoTime());
    System.out.println(test + ": seed " + seed + " (rerun with -Dtests.seed=" + seed + ")");
    return seed;
  }

  /** At least {@code n} times the multiplier, plus up to half of that again at random. */
  public static int atLeast(Random random, int n) {
    int min = n * Integer.getInteger("tests.multiplier", 1);
    return min + random.nextInt(min / 2 + 1);
  }
}
