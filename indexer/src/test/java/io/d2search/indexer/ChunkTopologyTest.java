package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.embed.BackboneSource;
import io.d2search.embed.TextTokenizer;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.events.DocumentState;
import io.d2search.events.Passage;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.ChunkerConfig;
import io.d2search.ingest.DocumentValidator;
import io.d2search.ingest.ValidationLimits;
import io.d2search.schemas.Topics;
import io.d2search.testkit.Randomized;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The chunk topology in TopologyTestDriver, with the real tokenizer and the project's Avro serde. */
class ChunkTopologyTest {
  /** Small chunks, so a few sentences make several passages. */
  private static final ChunkerConfig CHUNKS = new ChunkerConfig(12, 4);
  private static final String THREE_PASSAGES =
      "Kafka keeps an ordered log of records. Streams read the log and keep state in local stores. "
          + "Lucene builds a graph of vectors for search. Queries walk the graph to near neighbours.";

  /** Delete retention of the topology under test. */
  private static final java.time.Duration RETENTION = java.time.Duration.ofDays(1);

  private static TextTokenizer tokenizer;
  private static Chunker chunker;

  @TempDir Path stateDir;
  private SimpleMeterRegistry registry;
  private TopologyTestDriver driver;
  private TestInputTopic<byte[], byte[]> documents;
  private TestOutputTopic<String, Passage> passages;
  private TestOutputTopic<byte[], byte[]> deadLetters;

  @BeforeAll
  static void loadTokenizer() {
    tokenizer = TextTokenizer.load(BackboneSource.MINILM_L6_V2);
    chunker = new Chunker(tokenizer, CHUNKS);
  }

  @AfterAll
  static void closeTokenizer() {
    tokenizer.close();
  }

  @BeforeEach
  void startDriver() {
    registry = new SimpleMeterRegistry();
    driver = new TopologyTestDriver(
        ChunkTopology.build(chunker, new DocumentValidator(ValidationLimits.defaults()), registry,
            Indexer.DEFAULT_MAX_REQUEST_SIZE, RETENTION),
        Indexer.streamsConfig(IndexerConfig.defaults("unused:9092", stateDir), "chunk-test"),
        Instant.parse("2026-01-01T00:00:00Z"));
    documents = driver.createInputTopic(Topics.DOCUMENTS, new ByteArraySerializer(), new ByteArraySerializer());
    passages = driver.createOutputTopic(Topics.PASSAGES, new StringDeserializer(),
        Topics.passageSerde().deserializer());
    deadLetters = driver.createOutputTopic(Topics.DOCUMENTS_DLQ, new ByteArrayDeserializer(),
        new ByteArrayDeserializer());
  }

  @AfterEach
  void closeDriver() {
    driver.close();
  }

  private static DocumentEvent upsert(String id, long version, String body) {
    return DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle("Title of " + id).setBody(body)
        .setUrl("https://example.org/" + id).setVersion(version).setTs(Instant.EPOCH)
        .setAttributes(java.util.Map.of("lang", "en", "source", id)).build();
  }

  private static DocumentEvent delete(String id, long version) {
    return DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.DELETE).setVersion(version).setTs(Instant.EPOCH)
        .build();
  }

  private void send(String key, DocumentEvent event) {
    documents.pipeInput(bytes(key), Topics.documentSerde().encode(event));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private DocumentState state(String id) {
    KeyValueStore<String, DocumentState> store = driver.getKeyValueStore(ChunkTopology.DOCUMENT_STATE_STORE);
    return store.get(id);
  }

  private double counter(String name, String tag, String value) {
    return registry.get(name).tag(tag, value).counter().count();
  }

  @Test
  void upsertEmitsPassagesAndRemembersTheDocument() {
    List<String> expected = chunker.chunk(THREE_PASSAGES);
    assertThat(expected).hasSizeGreaterThanOrEqualTo(3);

    send("doc", upsert("doc", 3, THREE_PASSAGES));

    List<KeyValue<String, Passage>> out = passages.readKeyValuesToList();
    assertThat(out).hasSize(expected.size());
    for (int n = 0; n < expected.size(); n++) {
      Passage p = out.get(n).value;
      assertThat(out.get(n).key).isEqualTo("doc#" + n);
      assertThat(p.getDocId()).isEqualTo("doc");
      assertThat(p.getN()).isEqualTo(n);
      assertThat(p.getText()).isEqualTo(expected.get(n));
      assertThat(p.getTitle()).isEqualTo("Title of doc");
      assertThat(p.getUrl()).isEqualTo("https://example.org/doc");
      assertThat(p.getAttributes()).as("attributes ride on every passage").containsExactlyInAnyOrderEntriesOf(
          java.util.Map.of("lang", "en", "source", "doc"));
      assertThat(p.getDocVersion()).isEqualTo(3);
    }
    assertThat(state("doc")).isEqualTo(new DocumentState(3L, expected.size(), null));
    assertThat(deadLetters.isEmpty()).isTrue();
    assertThat(registry.get("d2search.chunk.passages").counter().count()).isEqualTo(expected.size());
  }

  @Test
  void updateThatShrinksTheDocumentTombstonesTheTail() {
    int before = chunker.chunk(THREE_PASSAGES).size();
    send("doc", upsert("doc", 1, THREE_PASSAGES));
    passages.readKeyValuesToList();

    send("doc", upsert("doc", 2, "Now it is short."));

    List<KeyValue<String, Passage>> out = passages.readKeyValuesToList();
    assertThat(out).hasSize(before);
    assertThat(out.get(0).key).isEqualTo("doc#0");
    assertThat(out.get(0).value.getText()).isEqualTo("Now it is short.");
    assertThat(out.get(0).value.getDocVersion()).isEqualTo(2);
    for (int n = 1; n < before; n++) {
      assertThat(out.get(n)).isEqualTo(KeyValue.pair("doc#" + n, null));
    }
    assertThat(state("doc")).isEqualTo(new DocumentState(2L, 1, null));
  }

  @Test
  void deleteTombstonesEveryPassageAndRemembersTheDeletedVersion() {
    int count = chunker.chunk(THREE_PASSAGES).size();
    send("doc", upsert("doc", 1, THREE_PASSAGES));
    passages.readKeyValuesToList();

    send("doc", delete("doc", 2));

    List<KeyValue<String, Passage>> out = passages.readKeyValuesToList();
    assertThat(out).hasSize(count).allMatch(kv -> kv.value == null);
    assertThat(out.stream().map(kv -> kv.key)).containsExactlyElementsOf(
        IntStream.range(0, count).mapToObj(n -> "doc#" + n).toList());
    assertThat(state("doc").getVersion()).isEqualTo(2L);
    assertThat(state("doc").getPassages()).isZero();
    assertThat(state("doc").getDeletedAt()).isNotNull();
    assertThat(counter("d2search.chunk.documents", "outcome", "deleted")).isEqualTo(1);
  }

  @Test
  void eventOlderThanTheAppliedVersionIsSkipped() {
    send("doc", upsert("doc", 5, "Version five."));
    passages.readKeyValuesToList();

    send("doc", upsert("doc", 4, "Version four arrived late."));
    send("doc", delete("doc", 3));

    assertThat(passages.isEmpty()).isTrue();
    assertThat(deadLetters.isEmpty()).isTrue();
    assertThat(state("doc")).isEqualTo(new DocumentState(5L, 1, null));
    assertThat(counter("d2search.chunk.documents", "outcome", "stale")).isEqualTo(2);

    send("doc", upsert("doc", 5, "Version five again."));
    assertThat(passages.readValue().getText()).isEqualTo("Version five again.");
  }

  /**
   * Finding 2 of the reliability issue: UPSERT v5, DELETE v6, then a late UPSERT v4 must leave the document
   * deleted. Randomized over interleavings of upserts and deletes of a few documents, with versions drawn so that
   * many events arrive after a newer one: whatever the arrival order, the passages on the topic (latest value per
   * key) are those of each document's newest event (among equal versions, the last to arrive), and nothing when
   * that event is a delete.
   */
  @Test
  void theIndexAlwaysEqualsTheNewestVersionWhateverTheArrivalOrder() {
    java.util.Random random = Randomized.random("theIndexAlwaysEqualsTheNewestVersionWhateverTheArrivalOrder");
    String[] bodies = {"Version text one.", THREE_PASSAGES, "A short body. With two sentences here.",
        "Kafka keeps an ordered log of records."};
    for (int round = 0; round < Randomized.atLeast(random, 20); round++) {
      java.util.Map<String, String> live = new java.util.HashMap<>();
      java.util.Map<String, Long> newest = new java.util.HashMap<>();
      java.util.Map<String, Passage> topic = new java.util.HashMap<>();
      int events = 1 + random.nextInt(25);
      for (int e = 0; e < events; e++) {
        String id = "r" + round + "-d" + random.nextInt(3);
        long version = random.nextInt(8);
        boolean isDelete = random.nextInt(3) == 0;
        String body = bodies[random.nextInt(bodies.length)];
        send(id, isDelete ? delete(id, version) : upsert(id, version, body));
        Long seen = newest.get(id);
        if (seen == null || version >= seen) {
          newest.put(id, version);
          if (isDelete) {
            live.remove(id);
          } else {
            live.put(id, body);
          }
        }
        passages.readKeyValuesToList().forEach(kv -> topic.put(kv.key, kv.value));
      }
      for (String id : newest.keySet()) {
        List<String> expected = live.containsKey(id) ? chunker.chunk(live.get(id)) : List.of();
        List<String> actual = topic.entrySet().stream()
            .filter(kv -> kv.getKey().startsWith(id + "#") && kv.getValue() != null)
            .sorted(java.util.Comparator.comparingInt(kv -> kv.getValue().getN()))
            .map(kv -> kv.getValue().getText()).toList();
        assertThat(actual).as("passages of %s in round %d", id, round).isEqualTo(expected);
      }
    }
  }

  @Test
  void aLateOlderUpsertDoesNotResurrectADeletedDocument() {
    send("doc", upsert("doc", 5, "Version five."));
    send("doc", delete("doc", 6));
    passages.readKeyValuesToList();

    send("doc", upsert("doc", 4, "Version four arrived late."));

    assertThat(passages.isEmpty()).as("nothing indexed again").isTrue();
    assertThat(counter("d2search.chunk.documents", "outcome", "stale")).isEqualTo(1);
  }

  @Test
  void aDeleteIsForgottenAfterTheRetentionOfStreamTime() {
    java.time.Instant t0 = java.time.Instant.parse("2026-01-01T00:00:00Z");
    documents.pipeInput(bytes("doc"), Topics.documentSerde().encode(upsert("doc", 5, "Version five.")), t0);
    documents.pipeInput(bytes("doc"), Topics.documentSerde().encode(delete("doc", 6)), t0);
    passages.readKeyValuesToList();
    // Stream time moves past the retention on another document's event.
    documents.pipeInput(bytes("other"), Topics.documentSerde().encode(upsert("other", 1, "Other.")),
        t0.plus(RETENTION).plusSeconds(3_601));
    assertThat(state("doc")).as("forgotten after the retention").isNull();
    assertThat(registry.get("d2search.chunk.deletes.expired").counter().count()).isEqualTo(1);
    passages.readKeyValuesToList();

    // The documented rule: an older event arriving later than the retention is applied.
    send("doc", upsert("doc", 4, "Version four, very late."));
    assertThat(passages.readValue().getText()).isEqualTo("Version four, very late.");
  }

  @Test
  void statesWrittenBeforeDeletesWereRememberedStillRead() throws java.io.IOException {
    org.apache.avro.generic.GenericRecord v1 = new org.apache.avro.generic.GenericData.Record(
        ChunkTopology.DOCUMENT_STATE_V1);
    v1.put("version", 7L);
    v1.put("passages", 3);
    byte[] bytes = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
        org.apache.avro.generic.GenericData.get(), ChunkTopology.DOCUMENT_STATE_V1).encode(v1).array();
    DocumentState read = io.d2search.schemas.AvroSerde.of(DocumentState.class, ChunkTopology.DOCUMENT_STATE_V1)
        .decode(bytes);
    assertThat(read).isEqualTo(new DocumentState(7L, 3, null));
  }

  @Test
  void badRecordsGoToTheDeadLetterTopicAndTheNextGoodRecordStillFlows() {
    byte[] garbage = {0x00, 0x01, 'n', 'o', 't', ' ', 'a', 'v', 'r', 'o'};
    Headers producerHeaders = new RecordHeaders().add("trace-id", bytes("abc"));
    documents.pipeInput(new TestRecord<>(bytes("g"), garbage, producerHeaders, Instant.parse("2026-01-02T00:00:00Z")));
    send("nobody", upsert("nobody", 1, null));
    send("other", upsert("doc", 1, "Key and id differ."));
    documents.pipeInput(new byte[] {(byte) 0xC3, (byte) 0x28}, Topics.documentSerde().encode(upsert("x", 1, "X.")));
    send("good", upsert("good", 1, "This one is fine."));

    List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
    assertThat(dead).hasSize(4);
    assertDeadLetter(dead.get(0), ChunkTopology.STAGE_DECODE, 0, "Not a valid DocumentEvent");
    assertThat(dead.get(0).key()).isEqualTo(bytes("g"));
    assertThat(dead.get(0).value()).isEqualTo(garbage);
    assertThat(dead.get(0).timestamp()).isEqualTo(Instant.parse("2026-01-02T00:00:00Z").toEpochMilli());
    assertThat(dead.get(0).headers().lastHeader("trace-id").value()).isEqualTo(bytes("abc"));

    assertDeadLetter(dead.get(1), ChunkTopology.STAGE_VALIDATE, 1, "UPSERT needs a non-blank body");
    assertDeadLetter(dead.get(2), ChunkTopology.STAGE_VALIDATE, 2, "differs from document id");
    assertThat(dead.get(2).value()).isEqualTo(Topics.documentSerde().encode(upsert("doc", 1, "Key and id differ.")));
    assertDeadLetter(dead.get(3), ChunkTopology.STAGE_VALIDATE, 3, "not valid UTF-8");
    assertThat(dead.get(3).key()).isEqualTo(new byte[] {(byte) 0xC3, (byte) 0x28});

    assertThat(passages.readKeyValuesToList()).singleElement()
        .satisfies(kv -> assertThat(kv.key).isEqualTo("good#0"));
    assertThat(counter("d2search.chunk.dead.letters", "stage", "decode")).isEqualTo(1);
    assertThat(counter("d2search.chunk.dead.letters", "stage", "validate")).isEqualTo(3);
  }

  @Test
  void aRejectedRecordNearTheSizeLimitIsDeadLetteredCutToFit() {
    // Over the validator's body limit, and so close to 1 MiB that the copy with reason headers would not fit.
    DocumentEvent big = upsert("big", 1, "y".repeat(1_048_300));
    byte[] value = Topics.documentSerde().encode(big);
    documents.pipeInput(bytes("big"), value);
    send("doc", upsert("doc", 1, "Version one."));

    TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
    assertThat(new String(dead.headers().lastHeader(Topics.HEADER_STAGE).value(), StandardCharsets.UTF_8))
        .isEqualTo(ChunkTopology.STAGE_VALIDATE);
    assertThat(new String(dead.headers().lastHeader(Topics.HEADER_TRUNCATED).value(), StandardCharsets.UTF_8))
        .startsWith("value " + value.length + " bytes, kept ");
    assertThat(DeadLetter.serializedSizeUpperBound(dead.key(), dead.value(), dead.headers().toArray()))
        .isLessThanOrEqualTo(Indexer.DEFAULT_MAX_REQUEST_SIZE);
    assertThat(value).startsWith(dead.value());
    assertThat(passages.readKeyValuesToList()).extracting(kv -> kv.key).containsExactly("doc#0");
  }

  /** Reliability issue, finding 5: invalid UTF-8 in a body and bytes after the record are dead-lettered. */
  @Test
  void invalidUtf8AndTrailingBytesAreDeadLetteredNotIndexed() {
    byte[] good = Topics.documentSerde().encode(upsert("doc", 1, "Xylophones are loud."));
    byte[] broken = good.clone();
    for (int i = 10; i < broken.length; i++) {
      if (broken[i] == 'X') {
        broken[i] = (byte) 0xFF;
        break;
      }
    }
    documents.pipeInput(bytes("doc"), broken);
    documents.pipeInput(bytes("doc"), java.util.Arrays.copyOf(good, good.length + 2));

    List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
    assertThat(dead).hasSize(2);
    assertThat(new String(dead.get(0).headers().lastHeader(Topics.HEADER_ERROR).value(), StandardCharsets.UTF_8))
        .contains("not valid UTF-8");
    assertThat(new String(dead.get(1).headers().lastHeader(Topics.HEADER_ERROR).value(), StandardCharsets.UTF_8))
        .contains("2 bytes after the end of the record");
    assertThat(passages.isEmpty()).isTrue();
  }

  @Test
  void tombstoneOnDocumentsIsDeadLetteredNotFatal() {
    documents.pipeInput(bytes("doc"), (byte[]) null);
    List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
    assertThat(dead).singleElement().satisfies(r -> assertDeadLetter(r, ChunkTopology.STAGE_VALIDATE, 0, "no value"));
  }

  private static void assertDeadLetter(TestRecord<byte[], byte[]> record, String stage, long offset, String error) {
    assertThat(header(record, Topics.HEADER_STAGE)).isEqualTo(stage);
    assertThat(header(record, Topics.HEADER_ERROR)).contains(error);
    assertThat(header(record, Topics.HEADER_SOURCE_TOPIC)).isEqualTo(Topics.DOCUMENTS);
    assertThat(header(record, Topics.HEADER_SOURCE_PARTITION)).isEqualTo("0");
    assertThat(header(record, Topics.HEADER_SOURCE_OFFSET)).isEqualTo(Long.toString(offset));
  }

  private static String header(TestRecord<byte[], byte[]> record, String name) {
    return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }
}
