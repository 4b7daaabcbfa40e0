package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The throttle of a FULL release's re-embedding. */
class PassageRateTest {
  @Test
  void passesOneSecondsWorthAtOnceThenHoldsTheRate() {
    PassageRate rate = new PassageRate(200);
    long start = System.nanoTime();
    rate.acquire(200); // the one-second burst
    assertThat((System.nanoTime() - start) / 1e9).isLessThan(0.5);
    for (int i = 0; i < 20; i++) {
      rate.acquire(10); // 200 more: one second's worth beyond the burst
    }
    assertThat((System.nanoTime() - start) / 1e9).isGreaterThanOrEqualTo(0.9);
  }

  @Test
  void unlimitedNeverWaitsAndBadRatesAreRefused() {
    long start = System.nanoTime();
    PassageRate.UNLIMITED.acquire(1_000_000);
    assertThat((System.nanoTime() - start) / 1e9).isLessThan(0.5);
    assertThatThrownBy(() -> new PassageRate(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PassageRate(Double.NaN)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anInterruptedWaitReturnsWithTheFlagSet() {
    PassageRate rate = new PassageRate(1);
    rate.acquire(1);
    Thread.currentThread().interrupt();
    long start = System.nanoTime();
    rate.acquire(100); // would wait ~100 s
    assertThat(Thread.interrupted()).isTrue();
    assertThat((System.nanoTime() - start) / 1e9).isLessThan(5);
  }
}
