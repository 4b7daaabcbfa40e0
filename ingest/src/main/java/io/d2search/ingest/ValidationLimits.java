package io.d2search.ingest;

/**
 * Size limits a {@code DocumentEvent} must keep to be indexed.
 *
 * @param maxIdLength most characters in a document id; default {@value #DEFAULT_MAX_ID_LENGTH}
 * @param maxTitleChars most characters in a title; default {@value #DEFAULT_MAX_TITLE_CHARS}
 * @param maxBodyChars most characters in a body; default {@value #DEFAULT_MAX_BODY_CHARS}
 */
public record ValidationLimits(int maxIdLength, int maxTitleChars, int maxBodyChars) {
  public static final int DEFAULT_MAX_ID_LENGTH = 512;
  public static final int DEFAULT_MAX_TITLE_CHARS = 1_000;
  public static final int DEFAULT_MAX_BODY_CHARS = 1_000_000;

  /** @throws IllegalArgumentException if a limit is not positive */
  public ValidationLimits {
    requirePositive("maxIdLength", maxIdLength);
    requirePositive("maxTitleChars", maxTitleChars);
    requirePositive("maxBodyChars", maxBodyChars);
  }

  /** Ids up to 512 characters, titles up to 1,000, bodies up to 1,000,000. */
  public static ValidationLimits defaults() {
    return new ValidationLimits(DEFAULT_MAX_ID_LENGTH, DEFAULT_MAX_TITLE_CHARS, DEFAULT_MAX_BODY_CHARS);
  }

  private static void requirePositive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be >= 1: " + value);
    }
  }
}
