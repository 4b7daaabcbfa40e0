package io.d2search.ingest;

import java.util.Objects;

/**
 * The verdict of {@link DocumentValidator}.
 *
 * @param reason why the event was rejected, or null when it is valid
 */
public record ValidationResult(String reason) {
  private static final ValidationResult OK = new ValidationResult(null);

  /** The result for a valid event. */
  public static ValidationResult ok() {
    return OK;
  }

  /** A rejection; {@code reason} says what is wrong in words an operator can act on. */
  public static ValidationResult invalid(String reason) {
    return new ValidationResult(Objects.requireNonNull(reason, "reason"));
  }

  /** Whether the event may be indexed. */
  public boolean valid() {
    return reason == null;
  }
}
