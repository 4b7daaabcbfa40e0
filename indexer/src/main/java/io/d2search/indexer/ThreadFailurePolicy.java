package io.d2search.indexer;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.LongSupplier;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * What to do when a stream thread dies: replace it, unless threads of this application have died
 * {@code maxFailures} times within {@code window}; then shut the application down. A failure that a new thread
 * meets again at once (the same record, the same broken dependency) would otherwise replace threads forever while
 * nothing moves and nothing says so; a shut-down application is visible in its state and in health.
 *
 * <p>Thread-safe.
 */
final class ThreadFailurePolicy {
  /** Deaths within {@link #DEFAULT_WINDOW} after which the application is shut down. */
  static final int DEFAULT_MAX_FAILURES = 5;
  static final Duration DEFAULT_WINDOW = Duration.ofMinutes(10);

  private final int maxFailures;
  private final long windowNanos;
  private final LongSupplier nanoClock;
  private final Deque<Long> failures = new ArrayDeque<>();
  private String lastError = "";

  ThreadFailurePolicy(int maxFailures, Duration window, LongSupplier nanoClock) {
    if (maxFailures < 1) {
      throw new IllegalArgumentException("maxFailures must be >= 1: " + maxFailures);
    }
    this.maxFailures = maxFailures;
    this.windowNanos = window.toNanos();
    this.nanoClock = nanoClock;
  }

  static ThreadFailurePolicy defaults() {
    return new ThreadFailurePolicy(DEFAULT_MAX_FAILURES, DEFAULT_WINDOW, System::nanoTime);
  }

  /** Records one thread death, and its cause for health, and answers what Kafka Streams should do. */
  synchronized StreamThreadExceptionResponse onFailure(Throwable cause) {
    long now = nanoClock.getAsLong();
    failures.addLast(now);
    if (cause != null) {
      lastError = cause.toString();
    }
    expire(now);
    return failures.size() >= maxFailures
        ? StreamThreadExceptionResponse.SHUTDOWN_CLIENT
        : StreamThreadExceptionResponse.REPLACE_THREAD;
  }

  /**
   * Thread deaths within the window up to now, and the last one's cause.
   *
   * @param deaths how many
   * @param lastError the last cause, or empty
   */
  record Recent(int deaths, String lastError) {}

  synchronized Recent recent() {
    expire(nanoClock.getAsLong());
    return new Recent(failures.size(), failures.isEmpty() ? "" : lastError);
  }

  private void expire(long now) {
    while (!failures.isEmpty() && now - failures.peekFirst() > windowNanos) {
      failures.removeFirst();
    }
  }

  /** A phrase for the log line: "5 times within PT10M". */
  String limit() {
    return maxFailures + " times within " + Duration.ofNanos(windowNanos);
  }
}
