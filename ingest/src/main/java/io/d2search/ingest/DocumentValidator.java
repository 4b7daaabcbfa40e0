package io.d2search.ingest;

import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * Checks a decoded {@link DocumentEvent} and its record key before it is indexed:
 *
 * <ul>
 *   <li>the key is present, valid UTF-8, and equal to the event's id (so a document always lands on the same
 *       partition and state);
 *   <li>the id is non-empty, at most {@code maxIdLength} characters, and without {@code '#'} (the passage id
 *       separator);
 *   <li>the version is {@code >= 0};
 *   <li>an UPSERT has a non-blank body of at most {@code maxBodyChars} characters and a title of at most
 *       {@code maxTitleChars}; a DELETE's title and body are ignored;
 *   <li>an UPSERT has at most {@code maxAttributes} attributes, each named as {@code AttributeSchema.NAME} says,
 *       with a value of at most {@code maxAttributeChars} characters that its declared type can read (a
 *       {@code year:long} attribute of {@code "n/a"} would match no filter, so it is refused here, not lost there).
 * </ul>
 *
 * <p>Thread-safe and stateless.
 */
public final class DocumentValidator {
  /** Longest piece of user data quoted in a reason, so reasons stay readable in headers and logs. */
  private static final int QUOTE_CHARS = 80;

  private final ValidationLimits limits;

  public DocumentValidator(ValidationLimits limits) {
    this.limits = Objects.requireNonNull(limits, "limits");
  }

  /** The limits applied. */
  public ValidationLimits limits() {
    return limits;
  }

  /**
   * Validates an event against the raw key it was read with.
   *
   * @param key the record key bytes; may be null (which is invalid)
   * @param event the decoded value; may be null (which is invalid)
   * @return never null
   */
  public ValidationResult validate(byte[] key, DocumentEvent event) {
    if (key == null) {
      return ValidationResult.invalid("record key is missing; it must be the document id");
    }
    String decoded;
    try {
      decoded = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(key))
          .toString();
    } catch (CharacterCodingException e) {
      return ValidationResult.invalid("record key is not valid UTF-8");
    }
    return validate(decoded, event);
  }

  /**
   * Validates an event against its record key.
   *
   * @param key the record key; may be null (which is invalid)
   * @param event the decoded value; may be null (which is invalid)
   * @return never null
   */
  public ValidationResult validate(String key, DocumentEvent event) {
    if (event == null) {
      return ValidationResult.invalid("record has no value; to remove a document send a DELETE event");
    }
    if (key == null) {
      return ValidationResult.invalid("record key is missing; it must be the document id");
    }
    String id = event.getId();
    if (id == null || id.isEmpty()) {
      return ValidationResult.invalid("document id is empty");
    }
    if (id.length() > limits.maxIdLength()) {
      return ValidationResult.invalid(
          "document id has " + id.length() + " characters, more than the limit of " + limits.maxIdLength());
    }
    if (id.indexOf('#') >= 0) {
      return ValidationResult.invalid("document id " + quote(id) + " contains '#', the passage id separator");
    }
    if (!key.equals(id)) {
      return ValidationResult.invalid("record key " + quote(key) + " differs from document id " + quote(id));
    }
    if (event.getVersion() < 0) {
      return ValidationResult.invalid("document version is negative: " + event.getVersion());
    }
    if (event.getOp() == DocumentOp.UPSERT) {
      return validateUpsert(event);
    }
    return ValidationResult.ok();
  }

  private ValidationResult validateUpsert(DocumentEvent event) {
    String body = event.getBody();
    if (body == null || body.isBlank()) {
      return ValidationResult.invalid("UPSERT needs a non-blank body");
    }
    if (body.length() > limits.maxBodyChars()) {
      return ValidationResult.invalid(
          "body has " + body.length() + " characters, more than the limit of " + limits.maxBodyChars());
    }
    String title = event.getTitle();
    if (title != null && title.length() > limits.maxTitleChars()) {
      return ValidationResult.invalid(
          "title has " + title.length() + " characters, more than the limit of " + limits.maxTitleChars());
    }
    Map<String, String> attributes = event.getAttributes();
    if (attributes.size() > limits.maxAttributes()) {
      return ValidationResult.invalid(
          attributes.size() + " attributes, more than the limit of " + limits.maxAttributes());
    }
    for (Map.Entry<String, String> a : attributes.entrySet()) {
      if (a.getValue().length() > limits.maxAttributeChars()) {
        return ValidationResult.invalid("attribute " + quote(a.getKey()) + " has " + a.getValue().length()
            + " characters, more than the limit of " + limits.maxAttributeChars());
      }
      try {
        limits.attributes().check(a.getKey(), a.getValue());
      } catch (IllegalArgumentException e) {
        return ValidationResult.invalid(quoteAll(e.getMessage()));
      }
    }
    return ValidationResult.ok();
  }

  /** A message that may quote user data at length, cut to a readable size. */
  private static String quoteAll(String message) {
    return message.length() <= 4 * QUOTE_CHARS ? message : message.substring(0, 4 * QUOTE_CHARS) + "...";
  }

  private static String quote(String s) {
    return "'" + (s.length() <= QUOTE_CHARS ? s : s.substring(0, QUOTE_CHARS) + "...") + "'";
  }
}
