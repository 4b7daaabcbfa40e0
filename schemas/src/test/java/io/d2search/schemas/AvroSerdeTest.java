package io.d2search.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.events.Click;
import io.d2search.events.DocumentEvent;
import io.d2search.events.Impression;
import io.d2search.events.ModelRelease;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.TrainingExample;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class AvroSerdeTest {

  /** Fixed with {@code -Dd2search.test.seed=N} to replay a failure; printed before the tests run. */
  private static final long SEED = Long.getLong("d2search.test.seed", System.nanoTime());
  private static final int RECORDS_PER_TYPE = 200;
  private static final String TOPIC = "any-topic";
  /** The schema files a producer without this code would use. */
  private static final Path AVRO_DIR = Path.of(System.getProperty("basedir", "."), "src", "main", "avro");

  /** A generated event type and how to make random instances of it. */
  record EventType<T extends SpecificRecord>(Class<T> type, Function<RandomEvents, T> random) {
    Schema avsc() throws IOException {
      return new Schema.Parser().parse(AVRO_DIR.resolve(type.getSimpleName() + ".avsc").toFile());
    }

    @Override
    public String toString() {
      return type.getSimpleName();
    }
  }

  static List<EventType<?>> eventTypes() {
    return List.of(
        new EventType<>(DocumentEvent.class, RandomEvents::documentEvent),
        new EventType<>(Passage.class, RandomEvents::passage),
        new EventType<>(PassageEmbedding.class, RandomEvents::passageEmbedding),
        new EventType<>(Impression.class, RandomEvents::impression),
        new EventType<>(Click.class, RandomEvents::click),
        new EventType<>(TrainingExample.class, RandomEvents::trainingExample),
        new EventType<>(ModelRelease.class, RandomEvents::modelRelease));
  }

  @BeforeAll
  static void printSeed() {
    System.out.printf("AvroSerdeTest seed %d (replay with -Dd2search.test.seed=%d)%n", SEED, SEED);
  }

  private static RandomEvents randomEvents() {
    return new RandomEvents(new Random(SEED));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("eventTypes")
  void roundTripsRandomEvents(EventType<?> eventType) {
    roundTrip(eventType);
  }

  private static <T extends SpecificRecord> void roundTrip(EventType<T> eventType) {
    AvroSerde<T> serde = AvroSerde.of(eventType.type());
    RandomEvents events = randomEvents();
    for (int i = 0; i < RECORDS_PER_TYPE; i++) {
      T event = eventType.random().apply(events);
      byte[] bytes = serde.serializer().serialize(TOPIC, event);
      assertThat(serde.deserializer().deserialize(TOPIC, bytes)).as("record %d", i).isEqualTo(event);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("eventTypes")
  void tombstonesStayNull(EventType<?> eventType) {
    AvroSerde<?> serde = AvroSerde.of(eventType.type());
    assertThat(serde.serializer().serialize(TOPIC, null)).isNull();
    assertThat(serde.deserializer().deserialize(TOPIC, null)).isNull();
    assertThat(serde.decode(null)).isNull();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("eventTypes")
  void bytesStartWithMarkerAndSchemaFingerprint(EventType<?> eventType) throws IOException {
    long fingerprint = SchemaNormalization.parsingFingerprint64(eventType.avsc());
    // The generated class carries Java-only properties (avro.java.string); the canonical form drops them, so the
    // .avsc and the class have the same fingerprint.
    assertThat(SchemaNormalization.parsingFingerprint64(SpecificData.get().getSchema(eventType.type())))
        .isEqualTo(fingerprint);

    byte[] bytes = encodeRandom(eventType);

    assertThat(bytes.length).isGreaterThan(10);
    assertThat(bytes[0]).isEqualTo((byte) 0xC3);
    assertThat(bytes[1]).isEqualTo((byte) 0x01);
    assertThat(ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(fingerprint);
  }

  private static <T extends SpecificRecord> byte[] encodeRandom(EventType<T> eventType) {
    return AvroSerde.of(eventType.type()).encode(eventType.random().apply(randomEvents()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("eventTypes")
  void decodesEventsOfPlainAvroProducers(EventType<?> eventType) throws IOException {
    decodePlainAvro(eventType);
  }

  /** Copies random events into GenericRecords of the parsed .avsc, encodes them with Avro alone, decodes them. */
  private static <T extends SpecificRecord> void decodePlainAvro(EventType<T> eventType) throws IOException {
    Schema avsc = eventType.avsc();
    BinaryMessageEncoder<GenericRecord> foreignEncoder = new BinaryMessageEncoder<>(GenericData.get(), avsc);
    AvroSerde<T> serde = AvroSerde.of(eventType.type());
    RandomEvents events = randomEvents();
    for (int i = 0; i < RECORDS_PER_TYPE / 10; i++) {
      T event = eventType.random().apply(events);
      byte[] bytes = toArray(foreignEncoder.encode(toGeneric(event, avsc)));
      assertThat(serde.decode(bytes)).as("record %d", i).isEqualTo(event);
    }
  }

  /** What a foreign producer would hold: a GenericRecord of the .avsc with the same content. */
  private static GenericRecord toGeneric(SpecificRecord event, Schema avsc) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
    new SpecificDatumWriter<SpecificRecord>(event.getSchema()).write(event, encoder);
    return new GenericDatumReader<GenericRecord>(avsc).read(null, DecoderFactory.get().binaryDecoder(out.toByteArray(), null));
  }

  /** The encoder's buffer may be larger than the message (and reused), so copy exactly what it holds. */
  private static byte[] toArray(ByteBuffer buffer) {
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return bytes;
  }

  @Test
  void decodesAHandBuiltGenericPassage() throws IOException {
    Schema avsc = new EventType<>(Passage.class, RandomEvents::passage).avsc();
    GenericRecord generic = new GenericRecordBuilder(avsc)
        .set("docId", "doc-1")
        .set("n", 3)
        .set("text", "Streams of passages.")
        .set("docVersion", 7L)
        .set("url", "https://example.org/doc-1")
        .build(); // title takes its default, null

    byte[] bytes = toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), avsc).encode(generic));

    assertThat(Topics.passageSerde().decode(bytes)).isEqualTo(Passage.newBuilder()
        .setDocId("doc-1").setN(3).setTitle(null).setText("Streams of passages.").setDocVersion(7L)
        .setUrl("https://example.org/doc-1").build());
  }

  /** Passage as it was before {@code url} was added. */
  private static final Schema PASSAGE_WITHOUT_URL = new Schema.Parser().parse("""
      {"type": "record", "name": "Passage", "namespace": "io.d2search.events", "fields": [
        {"name": "docId", "type": "string"},
        {"name": "n", "type": "int"},
        {"name": "title", "type": ["null", "string"], "default": null},
        {"name": "text", "type": "string"},
        {"name": "docVersion", "type": "long"}
      ]}""");

  private static byte[] oldPassageBytes() throws IOException {
    GenericRecord old = new GenericRecordBuilder(PASSAGE_WITHOUT_URL)
        .set("docId", "doc-9").set("n", 0).set("title", "Old title").set("text", "Written long ago.")
        .set("docVersion", 1L)
        .build();
    return toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), PASSAGE_WITHOUT_URL).encode(old));
  }

  @Test
  void readsEventsWrittenWithARegisteredOlderSchema() throws IOException {
    AvroSerde<Passage> serde = AvroSerde.of(Passage.class, PASSAGE_WITHOUT_URL);

    Passage passage = serde.decode(oldPassageBytes());

    assertThat(passage).isEqualTo(Passage.newBuilder()
        .setDocId("doc-9").setN(0).setTitle("Old title").setText("Written long ago.").setDocVersion(1L)
        .setUrl(null).build());
    // New events are still written with the current schema.
    assertThat(serde.decode(serde.encode(passage))).isEqualTo(passage);
  }

  /**
   * Hybrid retrieval added attributes to passages and embeddings and first-stage ranks to impressions; records on
   * the (compacted) topics written before still decode, with the new fields' defaults.
   */
  @Test
  void topicSerdesReadRecordsOfTheSchemasBeforeHybridRetrieval() throws IOException {
    Schema v1 = olderSchema("PassageEmbedding-v1");
    GenericRecord old = new GenericData.Record(v1);
    old.put("docId", "d");
    old.put("n", 2);
    old.put("modelVersion", "0");
    old.put("vector", List.of(0.6f, 0.8f));
    old.put("textHash", "h");
    old.put("title", null);
    old.put("text", "t");
    old.put("docVersion", 3L);
    old.put("url", null);
    PassageEmbedding read = Topics.embeddingSerde().decodeStrict(
        toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old)));
    assertThat(read.getAttributes()).isEmpty();
    assertThat(read.getVector()).containsExactly(0.6f, 0.8f);

    Schema impressionV1 = olderSchema("Impression-v1");
    GenericRecord ranked = new GenericData.Record(impressionV1.getField("results").schema().getElementType());
    ranked.put("passageId", "d#0");
    ranked.put("score", 0.5f);
    GenericRecord impression = new GenericData.Record(impressionV1);
    impression.put("queryId", "q");
    impression.put("query", "text");
    impression.put("modelVersion", "0");
    impression.put("results", List.of(ranked));
    impression.put("ts", 1L);
    Impression decoded = Topics.impressionSerde().decodeStrict(
        toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), impressionV1).encode(impression)));
    assertThat(decoded.getMode()).isEqualTo("vector");
    assertThat(decoded.getReranked()).isFalse();
    assertThat(decoded.getResults().get(0).getFirstStageRank()).isNull();

    Schema passageV1 = olderSchema("Passage-v1");
    GenericRecord passage = new GenericData.Record(passageV1);
    passage.put("docId", "d");
    passage.put("n", 0);
    passage.put("text", "t");
    passage.put("docVersion", 1L);
    assertThat(Topics.passageSerde().decodeStrict(
        toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), passageV1).encode(passage)))
        .getAttributes()).isEmpty();
  }

  /** Releases published before they named their embeddings topic read as ranking with {@code embeddings}. */
  @Test
  void modelReleasesWrittenBeforeTheEmbeddingsTopicFieldReadItsDefault() throws IOException {
    Schema v1 = olderSchema("ModelRelease-v1");
    GenericRecord old = new GenericData.Record(v1);
    old.put("version", "loop-1");
    old.put("parentVersion", "0");
    old.put("bundleUri", "file:/bundles/loop-1");
    old.put("sha256", "ab");
    old.put("kind", new GenericData.EnumSymbol(v1.getField("kind").schema(), "HEADS"));
    old.put("stage", new GenericData.EnumSymbol(v1.getField("stage").schema(), "CURRENT"));
    old.put("metrics", java.util.Map.of());
    old.put("ts", 5L);
    ModelRelease read = Topics.modelReleaseSerde().decodeStrict(
        toArray(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old)));
    assertThat(read.getVersion()).isEqualTo("loop-1");
    assertThat(read.getEmbeddingsTopic()).isEqualTo(Topics.EMBEDDINGS);
  }

  @Test
  void eachFullVersionHasItsOwnEmbeddingsTopic() {
    assertThat(Topics.embeddingsTopicOf("loop-3")).isEqualTo("embeddings.loop-3");
    assertThat(Topics.versionOfEmbeddingsTopic("embeddings.loop-3")).isEqualTo("loop-3");
    assertThat(Topics.versionOfEmbeddingsTopic(Topics.EMBEDDINGS)).isNull();
    assertThat(Topics.versionOfEmbeddingsTopic("passages")).isNull();
    assertThatThrownBy(() -> Topics.embeddingsTopicOf("a/b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Topics.embeddingsTopicOf("")).isInstanceOf(IllegalArgumentException.class);
  }

  private static Schema olderSchema(String name) throws IOException {
    try (var in = Topics.class.getResourceAsStream("older/" + name + ".avsc")) {
      return new Schema.Parser().parse(in);
    }
  }

  @Test
  void rejectsEventsOfAnUnregisteredOlderSchema() throws IOException {
    byte[] bytes = oldPassageBytes();
    long fingerprint = SchemaNormalization.parsingFingerprint64(PASSAGE_WITHOUT_URL);

    assertThatThrownBy(() -> Topics.passageSerde().decode(bytes))
        .isInstanceOf(SerializationException.class)
        .hasMessageContaining("Passage")
        .hasMessageContaining(Long.toString(fingerprint));
  }

  /** Reliability issue, finding 5: an unknown fingerprint's error names the one expected. */
  @Test
  void anUnknownFingerprintsErrorNamesTheExpectedOne() throws IOException {
    byte[] bytes = oldPassageBytes();
    long expected = SchemaNormalization.parsingFingerprint64(Passage.getClassSchema());
    assertThatThrownBy(() -> Topics.passageSerde().decode(bytes))
        .hasMessageContaining("written with schema fingerprint " + expected)
        .hasMessageContaining("schemas/src/main/avro/Passage.avsc");
  }

  /** Reliability issue, finding 5: strict decoding refuses trailing bytes and invalid UTF-8, which Avro lets by. */
  @Test
  void strictDecodingRefusesTrailingBytesAndInvalidUtf8() {
    DocumentEvent event = DocumentEvent.newBuilder().setId("d").setOp(io.d2search.events.DocumentOp.UPSERT)
        .setBody("Xbody with a real \uFFFD in it").setVersion(1).setTs(java.time.Instant.EPOCH).build();
    AvroSerde<DocumentEvent> serde = Topics.documentSerde();
    byte[] good = serde.encode(event);
    assertThat(serde.decodeStrict(good)).as("a U+FFFD that was written as such is fine").isEqualTo(event);

    byte[] trailing = java.util.Arrays.copyOf(good, good.length + 3);
    assertThat(serde.decode(trailing)).as("Avro alone ignores trailing bytes").isEqualTo(event);
    assertThatThrownBy(() -> serde.decodeStrict(trailing)).isInstanceOf(SerializationException.class)
        .hasMessageContaining("3 bytes after the end of the record");

    byte[] broken = good.clone();
    int x = indexOf(broken, (byte) 'X');
    broken[x] = (byte) 0xFF; // never valid in UTF-8; same length, so the record still parses
    assertThat(serde.decode(broken).getBody().toString()).as("Avro alone replaces it").startsWith("\uFFFD");
    assertThatThrownBy(() -> serde.decodeStrict(broken)).isInstanceOf(SerializationException.class)
        .hasMessageContaining("not valid UTF-8");
  }

  /** The first {@code b} after the 10-byte single-object header (marker and fingerprint). */
  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 10; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    throw new AssertionError("byte not found");
  }

  @Test
  void rejectsEventsOfAnotherType() {
    byte[] click = Topics.clickSerde().encode(randomEvents().click());

    assertThatThrownBy(() -> Topics.passageSerde().decode(click))
        .isInstanceOf(SerializationException.class)
        .hasMessageContaining("Passage");
  }

  @Test
  void rejectsRandomBytes() {
    Random random = new Random(SEED);
    for (int i = 0; i < 1_000; i++) {
      byte[] garbage = new byte[random.nextInt(200)];
      random.nextBytes(garbage);
      if (garbage.length >= 2 && garbage[0] == (byte) 0xC3 && garbage[1] == 0x01) {
        garbage[1] = 0x02; // keep it garbage: a right header followed by random bytes may happen to parse
      }
      assertRejected(garbage);
    }
  }

  @Test
  void rejectsEmptyBytes() {
    assertRejected(new byte[0]);
  }

  @Test
  void rejectsEveryTruncationOfAValidRecord() {
    byte[] valid = Topics.passageSerde().encode(randomEvents().passage());
    for (int length = 0; length < valid.length; length++) {
      assertRejected(Arrays.copyOf(valid, length));
    }
  }

  @Test
  void rejectsAWrongMarker() {
    byte[] valid = Topics.passageSerde().encode(randomEvents().passage());
    for (int markerByte = 0; markerByte < 2; markerByte++) {
      byte[] bad = valid.clone();
      bad[markerByte] ^= 0x10;
      assertRejected(bad);
    }
  }

  private static void assertRejected(byte[] bytes) {
    assertThatThrownBy(() -> Topics.passageSerde().deserializer().deserialize(TOPIC, bytes))
        .as("%d bytes %s", bytes.length, Arrays.toString(bytes))
        .isInstanceOf(SerializationException.class)
        .hasMessageContaining("Passage");
  }

  @Test
  void refusesToEncodeAnIncompleteEvent() {
    Passage incomplete = new Passage(); // required fields are null

    assertThatThrownBy(() -> Topics.passageSerde().encode(incomplete))
        .isInstanceOf(SerializationException.class)
        .hasMessageContaining("Passage");
  }

  @Test
  void topicSerdesReadAndWriteTheirTypes() {
    assertThat(Topics.documentSerde().type()).isEqualTo(DocumentEvent.class);
    assertThat(Topics.passageSerde().type()).isEqualTo(Passage.class);
    assertThat(Topics.embeddingSerde().type()).isEqualTo(PassageEmbedding.class);
    assertThat(Topics.impressionSerde().type()).isEqualTo(Impression.class);
    assertThat(Topics.clickSerde().type()).isEqualTo(Click.class);
    assertThat(Topics.trainingExampleSerde().type()).isEqualTo(TrainingExample.class);
    assertThat(Topics.modelReleaseSerde().type()).isEqualTo(ModelRelease.class);
  }

  @Test
  void keepsMillisecondTimestamps() {
    Click click = Click.newBuilder().setQueryId("q").setPassageId("d#0").setRank(1)
        .setTs(Instant.parse("2026-01-02T03:04:05.678Z")).build();

    assertThat(Topics.clickSerde().decode(Topics.clickSerde().encode(click)).getTs())
        .isEqualTo(Instant.parse("2026-01-02T03:04:05.678Z"));
  }

  @org.junit.jupiter.api.Test
  void aHugeDeclaredLengthIsRejectedWithoutAllocatingIt() {
    // Valid single-object header of Passage, then a string length of ~1 GB (zig-zag varint) and no data.
    long fingerprint = org.apache.avro.SchemaNormalization.parsingFingerprint64(io.d2search.events.Passage.getClassSchema());
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(15).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0xC3).put((byte) 0x01).putLong(fingerprint);
    b.put(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x08});
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Topics.passageSerde().decode(b.array()))
        .isInstanceOf(org.apache.kafka.common.errors.SerializationException.class)
        .hasMessageContaining("Passage");
  }
}
