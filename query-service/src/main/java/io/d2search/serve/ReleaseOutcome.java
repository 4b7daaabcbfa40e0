package io.d2search.serve;

import java.util.Locale;
import java.util.Objects;

/**
 * What became of one {@code ModelRelease} record.
 *
 * @param kind adopted, pending, refused or ignored
 * @param version the release's version (for a record that does not decode, where it was)
 * @param reason why it was refused or ignored; for an adopted one, what it replaced
 */
public record ReleaseOutcome(Kind kind, String version, String reason) {
  public ReleaseOutcome {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(reason, "reason");
  }

  /** The outcomes, tagged {@code outcome} on {@code d2search.model.releases}. */
  public enum Kind {
    /** Now ranking searches. */
    ADOPTED,
    /**
     * Accepted, not serving yet: a release with other passage vectors, whose index is being built from its embeddings
     * topic; it is adopted once that index covers every live passage.
     */
    PENDING,
    /** Serving a share of searches as the canary, interleaved with the current model. */
    CANARY,
    /** Not served, and worth a look: a bundle missing, corrupt, not the one released, or incompatible. */
    REFUSED,
    /** Not served, as intended: the version already serving, a canary, a release superseded before it was read. */
    IGNORED;

    /** The metric tag value: {@code adopted}, {@code pending}, {@code canary}, {@code refused}, {@code ignored}. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }
}
