package io.d2search.indexer;

/**
 * At most so many passages per second, shared by the threads that embed: {@link #acquire} blocks the caller until
 * its passages fit. A blocked stream thread consumes nothing meanwhile, so a throttled re-embedding falls behind on
 * {@code passages} (its lag is its progress) instead of buffering. Bursts up to one second's worth pass at once.
 * Thread-safe.
 */
public final class PassageRate {
  /** No limit: {@link #acquire} never waits. */
  public static final PassageRate UNLIMITED = new PassageRate(0);

  private final double perSecond;
  /** When the passages acquired so far have all been paid for, in {@link System#nanoTime()}. */
  private long paidUntil = System.nanoTime();

  /** @param perSecond passages per second; 0 for no limit */
  public PassageRate(double perSecond) {
    if (!(perSecond >= 0) || Double.isInfinite(perSecond)) {
      throw new IllegalArgumentException("passages per second must be finite and >= 0: " + perSecond);
    }
    this.perSecond = perSecond;
  }

  /** The limit, 0 for none. */
  public double perSecond() {
    return perSecond;
  }

  /** Waits until {@code passages} more fit under the rate; returns early (flag set) when interrupted. */
  public void acquire(int passages) {
    if (perSecond == 0 || passages <= 0) {
      return;
    }
    long waitNanos;
    synchronized (this) {
      long now = System.nanoTime();
      long burst = 1_000_000_000L;
      // Unused time older than one second is forfeit: a long idle spell allows a one-second burst, not more.
      paidUntil = Math.max(paidUntil, now - burst);
      paidUntil += (long) (passages * 1e9 / perSecond);
      waitNanos = paidUntil - now - burst;
    }
    if (waitNanos > 0) {
      try {
        Thread.sleep(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
