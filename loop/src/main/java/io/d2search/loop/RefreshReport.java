package io.d2search.loop;

import java.util.Map;
import java.util.Objects;

/**
 * What one refresh did and why: the distiller's record of every decision, kept in
 * {@code <state>/refreshes.jsonl} and shown on its {@code /status}.
 *
 * @param version the candidate's version (or the one it would have had, when skipped)
 * @param parent the release it started from and was judged against
 * @param startedAt when it started (epoch ms)
 * @param seconds how long it took
 * @param feedbackReceived examples read from {@code training-pairs} when it started (what "new examples" counts)
 * @param trainLists lists trained on
 * @param validationLists lists that stopped training early
 * @param heldOutLists lists the gate judged on
 * @param decision what came of it
 * @param reason why, in words
 * @param metrics the gate's figures (empty when it did not run)
 */
public record RefreshReport(String version, String parent, long startedAt, double seconds, long feedbackReceived,
    int trainLists, int validationLists, int heldOutLists, Decision decision, String reason,
    Map<String, Double> metrics) {

  /** What a refresh ended in. */
  public enum Decision {
    /** Passed the gate and published on {@code model-releases}. */
    RELEASED,
    /** Trained, refused by the gate; the current release keeps serving. */
    REJECTED,
    /** Not trained: too little feedback to train or to judge. */
    SKIPPED,
    /** Failed with an error; the current release keeps serving. */
    FAILED
  }

  public RefreshReport {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(decision, "decision");
    Objects.requireNonNull(reason, "reason");
    metrics = Map.copyOf(metrics);
  }

  /** One line for the log. */
  public String describe() {
    return String.format(java.util.Locale.ROOT, "refresh %s (from %s, %.0f s, %d/%d/%d train/validation/gate lists): "
        + "%s, %s", version, parent, seconds, trainLists, validationLists, heldOutLists, decision, reason);
  }
}
