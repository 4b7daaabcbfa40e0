package io.d2search.loop;

import java.util.Locale;
import java.util.Objects;

/**
 * How a canary release ended; one line of {@code <state>/canaries.jsonl} and of {@code GET /status}.
 *
 * @param version the canary
 * @param current the model it was interleaved with
 * @param decision promoted (now the current release) or rolled back (withdrawn)
 * @param wins interleaved searches whose clicks favoured the canary
 * @param losses ... the current model
 * @param ties ... neither (left out of the test)
 * @param pValue the exact two-sided sign test's p-value at the decision
 * @param reason one line
 * @param decidedAt when (epoch ms)
 */
public record CanaryReport(String version, String current, Decision decision, long wins, long losses, long ties,
    double pValue, String reason, long decidedAt) {
  /** How a canary ended. */
  public enum Decision {
    /** It won: published as the current release. */
    PROMOTED,
    /** It lost, or showed no significant win in time: withdrawn; the current release stays. */
    ROLLED_BACK
  }

  public CanaryReport {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(current, "current");
    Objects.requireNonNull(decision, "decision");
    Objects.requireNonNull(reason, "reason");
  }

  /** One log line. */
  public String describe() {
    return String.format(Locale.ROOT, "Canary %s %s against %s: %d wins, %d losses, %d ties, p = %.4f (%s)", version,
        decision.name().toLowerCase(Locale.ROOT).replace('_', ' '), current, wins, losses, ties, pValue, reason);
  }
}
