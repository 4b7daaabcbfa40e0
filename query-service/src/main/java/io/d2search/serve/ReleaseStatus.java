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
 * @param pending releases accepted whose passage vectors were being built, since start
 * @param refused releases refused since start
 * @param ignored releases ignored since start (already serving, canary, superseded)
 * @param lastRefused the latest refusal; null when there was none
 * @param building the vectors of a release being built now, before searches switch to them; null when none
 */
public record ReleaseStatus(boolean watching, boolean caughtUp, long adopted, long pending, long refused,
    long ignored, Refusal lastRefused, Building building) {

  /** A service that does not follow releases: it serves the bundle it started with. */
  public static ReleaseStatus off() {
    return new ReleaseStatus(false, false, 0, 0, 0, 0, null, null);
  }

  /** This status with the release being built now (null for none). */
  public ReleaseStatus withBuilding(Building value) {
    return new ReleaseStatus(watching, caughtUp, adopted, pending, refused, ignored, lastRefused, value);
  }

  /**
   * The vector space of a release that searches will switch to once it covers every live passage.
   *
   * @param release the release that will serve
   * @param version the version its passage vectors are stamped with
   * @param topic the embeddings topic its index is built from
   * @param passages passages in its index now
   * @param coverage fraction of the serving index's passages it holds with the same text, at the last check
   * @param since when it began to be built
   */
  public record Building(String release, String version, String topic, int passages, double coverage,
      Instant since) {}

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
