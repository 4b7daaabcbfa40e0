package io.d2search.bench;

import java.util.Arrays;

/**
 * Order statistics of a set of latency samples (nanoseconds), by the nearest-rank method: the p-th percentile is
 * the smallest sample such that at least p% of the samples are at or below it, so it is always a measured value.
 * Immutable.
 */
final class Percentiles {
  private final long[] sorted;

  private Percentiles(long[] sorted) {
    this.sorted = sorted;
  }

  /**
   * @param samples at least one; copied
   * @throws IllegalArgumentException if there are none
   */
  static Percentiles of(long[] samples) {
    if (samples.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    long[] copy = samples.clone();
    Arrays.sort(copy);
    return new Percentiles(copy);
  }

  /**
   * The nearest-rank percentile: the sample at rank {@code ceil(p / 100 * n)} (1-based, at least 1).
   *
   * @param p in (0, 100]
   * @throws IllegalArgumentException if p is out of range
   */
  long percentile(double p) {
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("percentile must be in (0, 100]: " + p);
    }
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(1, Math.min(sorted.length, rank)) - 1];
  }

  long p50() {
    return percentile(50);
  }

  long p99() {
    return percentile(99);
  }

  long min() {
    return sorted[0];
  }

  long max() {
    return sorted[sorted.length - 1];
  }

  double mean() {
    double sum = 0;
    for (long s : sorted) {
      sum += s;
    }
    return sum / sorted.length;
  }

  int count() {
    return sorted.length;
  }

  /** Nanoseconds as milliseconds. */
  static double millis(long nanos) {
    return nanos / 1e6;
  }
}
