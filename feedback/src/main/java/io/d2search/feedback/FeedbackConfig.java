package io.d2search.feedback;

import io.d2search.config.Settings;
import java.time.Duration;
import java.util.Objects;

/**
 * How impressions and clicks are joined into training examples ({@code feedback.*} settings).
 *
 * @param window how long after its search a click still counts (a click outside it is late)
 * @param grace how late, in stream time, an impression or click may arrive and still be joined: a session's
 *     example is decided at {@code impression time + window + grace}, clicks without an impression wait that long
 *     for it, and a decided session is remembered that long so a later click is told late, not unknown
 * @param minDwellMs the shortest dwell that makes a click a positive; a dwell of 0 means unknown and counts
 * @param emitUnclicked whether a search with no positive emits an example too (every result a negative, for the
 *     teacher to label)
 * @param deadLetterMaxBytes the largest dead letter the producer may send ({@code max.request.size})
 */
public record FeedbackConfig(Duration window, Duration grace, long minDwellMs, boolean emitUnclicked,
    int deadLetterMaxBytes) {

  /** The {@code feedback.*} defaults: 30 min window, 5 min grace, 5 s dwell, no unclicked examples, 1 MB letters. */
  public static final FeedbackConfig DEFAULTS = of(Settings.defaults());

  public FeedbackConfig {
    Objects.requireNonNull(window, "window");
    Objects.requireNonNull(grace, "grace");
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("feedback window must be positive: " + window);
    }
    if (grace.isNegative()) {
      throw new IllegalArgumentException("feedback grace must be >= 0: " + grace);
    }
    if (minDwellMs < 0) {
      throw new IllegalArgumentException("feedback.min-dwell-ms must be >= 0: " + minDwellMs);
    }
    if (deadLetterMaxBytes < 1024) {
      throw new IllegalArgumentException("deadLetterMaxBytes must be >= 1024: " + deadLetterMaxBytes);
    }
  }

  /** Reads the {@code feedback.*} settings. */
  public static FeedbackConfig of(Settings s) {
    return new FeedbackConfig(Duration.ofMillis(s.longValue("feedback.window-ms")),
        Duration.ofMillis(s.longValue("feedback.grace-ms")), s.longValue("feedback.min-dwell-ms"),
        s.bool("feedback.emit-unclicked"), 1_048_576);
  }

  public FeedbackConfig withWindow(Duration value, Duration graceValue) {
    return new FeedbackConfig(value, graceValue, minDwellMs, emitUnclicked, deadLetterMaxBytes);
  }

  public FeedbackConfig withMinDwellMs(long value) {
    return new FeedbackConfig(window, grace, value, emitUnclicked, deadLetterMaxBytes);
  }

  public FeedbackConfig withEmitUnclicked(boolean value) {
    return new FeedbackConfig(window, grace, minDwellMs, value, deadLetterMaxBytes);
  }

  public FeedbackConfig withDeadLetterMaxBytes(int value) {
    return new FeedbackConfig(window, grace, minDwellMs, emitUnclicked, value);
  }
}
