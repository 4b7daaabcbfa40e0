package io.d2search.ingest;

import io.d2search.schemas.AttributeSchema;
import java.util.Objects;

/**
 * Size limits a {@code DocumentEvent} must keep to be indexed.
 *
 * @param maxIdLength most characters in a document id; default {@value #DEFAULT_MAX_ID_LENGTH}
 * @param maxTitleChars most characters in a title; default {@value #DEFAULT_MAX_TITLE_CHARS}
 * @param maxBodyChars most characters in a body; default {@value #DEFAULT_MAX_BODY_CHARS}
 * @param maxAttributes most attributes of a document; default {@value #DEFAULT_MAX_ATTRIBUTES}
 * @param maxAttributeChars most characters in an attribute value; default {@value #DEFAULT_MAX_ATTRIBUTE_CHARS}
 * @param attributes what an attribute must look like to be filtered on: names, and the declared types' values
 */
public record ValidationLimits(int maxIdLength, int maxTitleChars, int maxBodyChars, int maxAttributes,
    int maxAttributeChars, AttributeSchema attributes) {
  public static final int DEFAULT_MAX_ID_LENGTH = 512;
  public static final int DEFAULT_MAX_TITLE_CHARS = 1_000;
  public static final int DEFAULT_MAX_BODY_CHARS = 1_000_000;
  public static final int DEFAULT_MAX_ATTRIBUTES = 64;
  public static final int DEFAULT_MAX_ATTRIBUTE_CHARS = 1_000;

  /** @throws IllegalArgumentException if a limit is not positive */
  public ValidationLimits {
    requirePositive("maxIdLength", maxIdLength);
    requirePositive("maxTitleChars", maxTitleChars);
    requirePositive("maxBodyChars", maxBodyChars);
    requirePositive("maxAttributes", maxAttributes);
    requirePositive("maxAttributeChars", maxAttributeChars);
    Objects.requireNonNull(attributes, "attributes");
  }

  /** These size limits, the default attribute limits, every attribute a keyword. */
  public ValidationLimits(int maxIdLength, int maxTitleChars, int maxBodyChars) {
    this(maxIdLength, maxTitleChars, maxBodyChars, DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_ATTRIBUTE_CHARS,
        AttributeSchema.KEYWORDS);
  }

  /** Ids up to 512 characters, titles up to 1,000, bodies up to 1,000,000, 64 attributes of 1,000; all keywords. */
  public static ValidationLimits defaults() {
    return new ValidationLimits(DEFAULT_MAX_ID_LENGTH, DEFAULT_MAX_TITLE_CHARS, DEFAULT_MAX_BODY_CHARS);
  }

  /** These limits with the attribute types of the index ({@code index.attributes}). */
  public ValidationLimits withAttributes(AttributeSchema schema) {
    return new ValidationLimits(maxIdLength, maxTitleChars, maxBodyChars, maxAttributes, maxAttributeChars, schema);
  }

  private static void requirePositive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be >= 1: " + value);
    }
  }
}
