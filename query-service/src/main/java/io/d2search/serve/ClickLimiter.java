package io.d2search.serve;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * At most {@code perMinute} clicks per client and minute: a token bucket per client address, refilled
 * continuously. The buckets of the 10,000 most recent clients are kept; a forgotten client starts full.
 *
 * <p>Thread-safe.
 */
final class ClickLimiter {
  private static final int CLIENTS = 10_000;
  private final double perMinute;
  private final Map<String, double[]> buckets = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, double[]> eldest) {
      return size() > CLIENTS;
    }
  };

  ClickLimiter(int perMinute) {
    this.perMinute = perMinute;
  }

  /** Takes one click from the client's bucket; false when it is empty. */
  boolean tryAcquire(String client) {
    return tryAcquire(client, System.nanoTime());
  }

  synchronized boolean tryAcquire(String client, long nowNanos) {
    double[] bucket = buckets.computeIfAbsent(client, c -> new double[] {perMinute, nowNanos});
    double refill = (nowNanos - bucket[1]) / 60e9 * perMinute;
    bucket[0] = Math.min(perMinute, bucket[0] + refill);
    bucket[1] = nowNanos;
    if (bucket[0] < 1) {
      return false;
    }
    bucket[0] -= 1;
    return true;
  }
}
