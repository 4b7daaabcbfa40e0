package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.junit.jupiter.api.Test;

class ThreadFailurePolicyTest {
  @Test
  void replacesUntilTooManyDeathsFallInOneWindowThenShutsDown() {
    AtomicLong now = new AtomicLong();
    ThreadFailurePolicy policy = new ThreadFailurePolicy(3, Duration.ofMinutes(10), now::get);
    assertThat(policy.onFailure(new IllegalStateException("died"))).isEqualTo(StreamThreadExceptionResponse.REPLACE_THREAD);
    now.addAndGet(Duration.ofMinutes(6).toNanos());
    assertThat(policy.onFailure(new IllegalStateException("died"))).isEqualTo(StreamThreadExceptionResponse.REPLACE_THREAD);
    now.addAndGet(Duration.ofMinutes(6).toNanos()); // the first death is out of the window now
    assertThat(policy.onFailure(new IllegalStateException("died"))).isEqualTo(StreamThreadExceptionResponse.REPLACE_THREAD);
    now.addAndGet(Duration.ofMinutes(1).toNanos());
    assertThat(policy.onFailure(new IllegalStateException("died"))).isEqualTo(StreamThreadExceptionResponse.SHUTDOWN_CLIENT);
    assertThat(policy.limit()).isEqualTo("3 times within PT10M");
    assertThat(policy.recent()).isEqualTo(new ThreadFailurePolicy.Recent(3, "java.lang.IllegalStateException: died"));
  }
}
