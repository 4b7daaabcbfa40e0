package io.d2search.schemas;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.ClassSecurityValidator;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka serde for one generated Avro record type, using Avro's <em>single-object encoding</em>: two marker
 * bytes, the 8-byte CRC-64-AVRO fingerprint of the writer's schema, then the binary record. Any producer that
 * knows the schema can write valid events without this code or a schema registry.
 *
 * <p>A {@code null} value (a tombstone) maps to {@code null} both ways. Records written with an older schema
 * are read when that schema is given to {@link #of(Class, Schema...)}: Avro resolves them against the
 * current one. Bytes that are not a single-object encoded record of a known schema fail with a
 * {@link SerializationException} that names the type and the reason.
 *
 * <p>Thread-safe: encoders and decoders of Avro's message API may be shared.
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {

  /**
   * Names of the generated classes our serdes decode into. Since 1.12.2 Avro refuses to instantiate any class
   * by name that is not trusted (ClassSecurityValidator), its users' own generated classes included; so each
   * serde declares the record, enum and fixed classes of its own schema. Classes named by a writer's schema are
   * never trusted this way.
   */
  private static final Set<String> TRUSTED_CLASSES = ConcurrentHashMap.newKeySet();

  static {
    // A few bytes claiming a 2 GB string would make Avro allocate it before noticing the data is missing: cap
    // declared lengths well above anything valid (a document body is at most a few MB) unless the JVM sets them.
    limitIfUnset("org.apache.avro.limits.string.maxLength", 64 << 20);
    limitIfUnset("org.apache.avro.limits.bytes.maxLength", 64 << 20);
    limitIfUnset("org.apache.avro.limits.collectionItems.maxLength", 4 << 20);
    ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(
        ClassSecurityValidator.getGlobal(), c -> TRUSTED_CLASSES.contains(c.getName())));
  }

  private static void limitIfUnset(String property, int value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, Integer.toString(value));
    }
  }

  private final Class<T> type;
  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;
  /** The fingerprints this serde reads, current first: named when a record's fingerprint is unknown. */
  private final List<Long> fingerprints;

  private AvroSerde(Class<T> type, Schema schema, List<Schema> olderSchemas) {
    this.type = type;
    trustGeneratedClasses(schema, new HashSet<>());
    SpecificData model = SpecificData.getForClass(type);
    this.encoder = new BinaryMessageEncoder<>(model, schema);
    SchemaStore.Cache older = new SchemaStore.Cache();
    olderSchemas.forEach(older::addSchema);
    this.decoder = new BinaryMessageDecoder<>(model, schema, older);
    List<Long> known = new java.util.ArrayList<>();
    known.add(SchemaNormalization.parsingFingerprint64(schema));
    olderSchemas.forEach(s -> known.add(SchemaNormalization.parsingFingerprint64(s)));
    this.fingerprints = List.copyOf(known);
  }

  /**
   * A serde for a generated record class.
   *
   * @param olderSchemas earlier versions of the schema that records on the topic may have been written with
   */
  public static <T extends SpecificRecord> AvroSerde<T> of(Class<T> type, Schema... olderSchemas) {
    Objects.requireNonNull(type, "type");
    return new AvroSerde<>(type, SpecificData.get().getSchema(type), List.of(olderSchemas));
  }

  private static void trustGeneratedClasses(Schema schema, Set<String> seen) {
    switch (schema.getType()) {
      case RECORD -> {
        if (seen.add(schema.getFullName())) {
          TRUSTED_CLASSES.add(SpecificData.getClassName(schema));
          schema.getFields().forEach(field -> trustGeneratedClasses(field.schema(), seen));
        }
      }
      case ENUM, FIXED -> TRUSTED_CLASSES.add(SpecificData.getClassName(schema));
      case ARRAY -> trustGeneratedClasses(schema.getElementType(), seen);
      case MAP -> trustGeneratedClasses(schema.getValueType(), seen);
      case UNION -> schema.getTypes().forEach(branch -> trustGeneratedClasses(branch, seen));
      default -> { }
    }
  }

  /** The record class this serde reads and writes. */
  public Class<T> type() {
    return type;
  }

  /** Encodes a record; {@code null} stays {@code null} (a tombstone). */
  public byte[] encode(T record) {
    if (record == null) {
      return null;
    }
    try {
      ByteBuffer buffer = encoder.encode(record);
      byte[] bytes = new byte[buffer.remaining()];
      buffer.get(bytes);
      return bytes;
    } catch (IOException | AvroRuntimeException | NullPointerException | ClassCastException e) {
      throw new SerializationException("Cannot encode " + type.getSimpleName() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Decodes single-object encoded bytes; {@code null} stays {@code null}.
   *
   * @throws SerializationException if the bytes are not a record of this type or of a known older schema
   */
  public T decode(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    try {
      return decoder.decode(bytes);
    } catch (IOException | RuntimeException e) {
      throw invalid(bytes, e);
    }
  }

  /**
   * {@link #decode}, refusing what Avro itself lets through: bytes after a complete record, and strings that are
   * not valid UTF-8 (Avro replaces the bad bytes with U+FFFD and carries on; the indexer would index the damage).
   * A U+FFFD already present in the input as its own valid UTF-8 bytes is accepted.
   *
   * @throws SerializationException naming the fault
   */
  public T decodeStrict(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    ByteArrayInputStream in = new ByteArrayInputStream(bytes);
    T record;
    try {
      record = decoder.decode(in);
    } catch (IOException | RuntimeException e) {
      throw invalid(bytes, e);
    }
    if (in.available() > 0) {
      throw new SerializationException("Not a valid " + type.getSimpleName() + ": " + in.available()
          + " bytes after the end of the record (" + bytes.length + " bytes in all)");
    }
    long replaced = replacementChars(record);
    // The byte scan runs only in the rare case that a U+FFFD was decoded at all: this is every document's path.
    if (replaced > 0 && replaced > occurrences(bytes, UTF8_REPLACEMENT)) {
      throw new SerializationException("Not a valid " + type.getSimpleName()
          + ": a string field is not valid UTF-8");
    }
    return record;
  }

  private static final byte[] UTF8_REPLACEMENT = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};

  /** U+FFFD characters in every string of a decoded value (records, maps, arrays, unions). */
  private static long replacementChars(Object value) {
    if (value instanceof CharSequence text) {
      return text.chars().filter(c -> c == '\uFFFD').count();
    }
    if (value instanceof SpecificRecord record) {
      long n = 0;
      for (int i = 0; i < record.getSchema().getFields().size(); i++) {
        n += replacementChars(record.get(i));
      }
      return n;
    }
    if (value instanceof java.util.Map<?, ?> map) {
      long n = 0;
      for (java.util.Map.Entry<?, ?> e : map.entrySet()) {
        n += replacementChars(e.getKey()) + replacementChars(e.getValue());
      }
      return n;
    }
    if (value instanceof java.util.Collection<?> items) {
      return items.stream().mapToLong(AvroSerde::replacementChars).sum();
    }
    return 0;
  }

  private static long occurrences(byte[] bytes, byte[] pattern) {
    long n = 0;
    for (int i = 0; i + pattern.length <= bytes.length; i++) {
      if (bytes[i] == pattern[0] && bytes[i + 1] == pattern[1] && bytes[i + 2] == pattern[2]) {
        n++;
      }
    }
    return n;
  }

  private SerializationException invalid(byte[] bytes, Exception e) {
    String hint = e instanceof MissingSchemaException
        ? "; " + type.getSimpleName() + " is written with schema fingerprint " + fingerprints.get(0)
            + (fingerprints.size() > 1 ? " (also read: " + fingerprints.subList(1, fingerprints.size()) + ")" : "")
            + ", the CRC-64-AVRO parsing fingerprint of schemas/src/main/avro/" + type.getSimpleName() + ".avsc;"
            + " a writer whose schema differs (e.g. timestamp-millis written without its logical type) is another"
            + " schema"
        : "";
    return new SerializationException("Not a valid " + type.getSimpleName() + " (Avro single-object encoding, "
        + bytes.length + " bytes): " + describe(e) + hint, e);
  }

  private static String describe(Exception e) {
    String message = e.getMessage();
    String kind = e.getClass().getSimpleName();
    return message == null ? kind : kind + ": " + message;
  }

  @Override
  public Serializer<T> serializer() {
    return (topic, data) -> encode(data);
  }

  @Override
  public Deserializer<T> deserializer() {
    return (topic, data) -> decode(data);
  }

  @Override
  public void close() {
    // Nothing to release; Kafka calls close on both halves.
  }
}
