package io.d2search.schemas;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A record bound for the dead-letter topic, made to fit the largest record the producer may send.
 *
 * <p>A rejected record is copied with reason headers added, so a record the broker accepted just under its size
 * limit can produce a dead letter just over it; a send that fails that way fails again on every retry, and stops
 * its partition for good. {@link #fit} therefore bounds the serialized size from above, the way the producer does
 * before it sends ({@link #serializedSizeUpperBound}), and cuts the copy until the bound is within the limit: first
 * the value (a prefix is kept), then the producer's own headers (ours, which say why and where, are kept), then the
 * key. What was cut, and the original sizes, go into {@link Topics#HEADER_TRUNCATED}; the whole record stays at
 * the source offset the headers name for as long as the source topic retains it.
 *
 * @param key the key bytes, possibly cut; null when the source record had none
 * @param value the value bytes, possibly cut; null when the source record had none
 * @param headers the producer's headers and ours
 */
public record DeadLetter(byte[] key, byte[] value, Headers headers) {
  /** The v2 record batch header: base offset, length, epoch, magic, CRC, attributes, deltas, ids, count. */
  static final int BATCH_OVERHEAD = 61;
  /**
   * One record's own fields at their widest varints: length, attributes, timestamp delta, offset delta, key and
   * value lengths, and the header count.
   */
  static final int RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5;
  /** A header's two length varints. */
  static final int HEADER_OVERHEAD = 5 + 5;
  /** Room kept for the {@link Topics#HEADER_TRUNCATED} header itself. */
  static final int TRUNCATION_NOTE_ROOM = HEADER_OVERHEAD + Topics.HEADER_TRUNCATED.length() + 200;

  /** Headers we add: never cut. */
  static final Set<String> OWN_HEADERS = Set.of(Topics.HEADER_ERROR, Topics.HEADER_STAGE, Topics.HEADER_SOURCE_TOPIC,
      Topics.HEADER_SOURCE_PARTITION, Topics.HEADER_SOURCE_OFFSET, Topics.HEADER_TRUNCATED);

  /** Headers hold the reason for people and tools; a whole stack trace or body does not belong there. */
  static final int MAX_ERROR_CHARS = 1_000;

  public DeadLetter {
    Objects.requireNonNull(headers, "headers");
  }

  /**
   * Why and where a record was rejected: the dead letter's own headers.
   *
   * @param stage the stage that rejected it ({@link Topics#HEADER_STAGE})
   * @param error why, for people and tools; cut at {@value #MAX_ERROR_CHARS} characters; "unknown error" if blank
   * @param topic source topic ({@code "unknown"} when not known)
   * @param partition source partition, or -1
   * @param offset source offset, or -1 when the record left its source offset behind (a buffered passage)
   */
  public record Reason(String stage, String error, String topic, int partition, long offset) {
    public Reason {
      Objects.requireNonNull(stage, "stage");
      Objects.requireNonNull(topic, "topic");
      error = error == null || error.isBlank() ? "unknown error" : error;
      if (error.length() > MAX_ERROR_CHARS) {
        error = error.substring(0, MAX_ERROR_CHARS) + "...";
      }
    }
  }

  /**
   * The dead letter of a record: its key, value and headers, with the reason's headers replacing any same-named
   * ones a producer may have sent, cut to fit {@code maxRecordBytes} ({@link #fit}).
   *
   * @param sourceHeaders the source record's headers; not modified
   */
  public static DeadLetter of(byte[] key, byte[] value, Headers sourceHeaders, Reason reason, int maxRecordBytes) {
    Headers headers = new RecordHeaders(sourceHeaders.toArray());
    put(headers, Topics.HEADER_ERROR, reason.error());
    put(headers, Topics.HEADER_STAGE, reason.stage());
    put(headers, Topics.HEADER_SOURCE_TOPIC, reason.topic());
    put(headers, Topics.HEADER_SOURCE_PARTITION, Integer.toString(reason.partition()));
    put(headers, Topics.HEADER_SOURCE_OFFSET, Long.toString(reason.offset()));
    headers.remove(Topics.HEADER_TRUNCATED); // only ours may say what was cut
    return fit(key, value, headers, maxRecordBytes);
  }

  /** The {@link Topics#HEADER_ERROR} header. */
  public String error() {
    return header(Topics.HEADER_ERROR).orElse("");
  }

  /** The {@link Topics#HEADER_TRUNCATED} header: empty when nothing was cut. */
  public Optional<String> truncation() {
    return header(Topics.HEADER_TRUNCATED);
  }

  private Optional<String> header(String name) {
    Header h = headers.lastHeader(name);
    return h == null ? Optional.empty() : Optional.of(new String(h.value(), StandardCharsets.UTF_8));
  }

  private static void put(Headers headers, String name, String value) {
    headers.remove(name);
    headers.add(name, value.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The dead letter of a record: its key, value and headers with ours, cut to fit {@code maxRecordBytes}.
   *
   * @param key the source record's key, or null
   * @param value the source record's value, or null
   * @param headers the source record's headers with ours already set; not modified
   * @param maxRecordBytes the producer's {@code max.request.size} (or less); at least large enough for our headers
   * @throws IllegalArgumentException if even our own headers alone do not fit
   */
  public static DeadLetter fit(byte[] key, byte[] value, Headers headers, int maxRecordBytes) {
    Header[] all = headers.toArray();
    if (serializedSizeUpperBound(key, value, all) <= maxRecordBytes) {
      return new DeadLetter(key, value, new RecordHeaders(all));
    }
    Header[] own = Arrays.stream(all).filter(h -> OWN_HEADERS.contains(h.key())).toArray(Header[]::new);
    int budget = maxRecordBytes - serializedSizeUpperBound(null, null, own) - TRUNCATION_NOTE_ROOM;
    if (budget < 0) {
      throw new IllegalArgumentException("a dead letter needs more than " + maxRecordBytes + " bytes for its headers");
    }
    StringBuilder note = new StringBuilder();
    // The producer's headers and the key stay whole when they fit beside an empty value; the value gets the rest.
    int keyBytes = length(key);
    int foreignBytes = headersSize(all) - headersSize(own);
    boolean keepForeign = keyBytes + foreignBytes <= budget;
    int keyKept = Math.min(keyBytes, keepForeign ? keyBytes : budget);
    int valueKept = Math.max(0, Math.min(length(value), budget - keyKept - (keepForeign ? foreignBytes : 0)));
    byte[] newValue = cut(value, valueKept, "value", note);
    byte[] newKey = cut(key, keyKept, "key", note);
    RecordHeaders out = new RecordHeaders(keepForeign ? all : own);
    if (!keepForeign) {
      note.append(note.isEmpty() ? "" : "; ").append("producer headers ").append(foreignBytes).append(" bytes, dropped");
    }
    out.remove(Topics.HEADER_TRUNCATED);
    out.add(Topics.HEADER_TRUNCATED, note.toString().getBytes(StandardCharsets.UTF_8));
    return new DeadLetter(newKey, newValue, out);
  }

  /**
   * An upper bound of the bytes a record takes in a v2 record batch of its own, uncompressed: at least what the
   * producer's own check counts against {@code max.request.size}.
   */
  public static int serializedSizeUpperBound(byte[] key, byte[] value, Header[] headers) {
    return BATCH_OVERHEAD + RECORD_OVERHEAD + length(key) + length(value) + headersSize(headers);
  }

  /** This dead letter's {@link #serializedSizeUpperBound}. */
  public int serializedSizeUpperBound() {
    return serializedSizeUpperBound(key, value, headers.toArray());
  }

  private static int headersSize(Header[] headers) {
    int size = 0;
    for (Header h : headers) {
      size += HEADER_OVERHEAD + h.key().getBytes(StandardCharsets.UTF_8).length + length(h.value());
    }
    return size;
  }

  private static byte[] cut(byte[] bytes, int kept, String what, StringBuilder note) {
    if (bytes == null || kept >= bytes.length) {
      return bytes;
    }
    note.append(note.isEmpty() ? "" : "; ").append(what).append(' ').append(bytes.length).append(" bytes, kept ")
        .append(kept);
    return Arrays.copyOf(bytes, kept);
  }

  private static int length(byte[] bytes) {
    return bytes == null ? 0 : bytes.length;
  }
}
