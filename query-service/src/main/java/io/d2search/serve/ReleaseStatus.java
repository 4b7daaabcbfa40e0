package io.d2search.serve;

import java.time.Instant;
import java.util.Objects;

/**
 * How this query service follows {@code model-releases}, as {@code GET /models} shows it.
 *
 * @param watching whether it reads the topic at all ({@code model.releases.enabled})
 * @param caughtUp whether it has read the topic as it stood at start, and adopted or refused the current release
 *     found there
 * @param adopted releases adopted since start
 * @param refused releases refused since start
 * @param ignored releases ignored since start (already serving, canary, superseded)
 * @param lastRefused the latest refusal; null when there was none
 */
public record ReleaseStatus(boolean watching, boolean caughtUp, long adopted, long refused, long ignored,
    Refusal lastRefused) {

  /** A service that does not follow releases: it serves the bundle it started with. */
  public static ReleaseStatus off() {
    return new ReleaseStatus(false, false, 0, 0, 0, null);
  }

  /**
   * A refused release.
   *
   * @param version its version
   * @param reason why, e.g. the two checksums that differ
   * @param at when it was refused
   */
  public record Refusal(String version, String reason, Instant at) {
    public Refusal {
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(at, "at");
    }
  }
}
