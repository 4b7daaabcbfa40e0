package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.MeanPooling;
import io.d2search.embed.Pooling;
import io.d2search.embed.TokenStates;
import io.d2search.embed.TextHash;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
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

/** The embed topology in TopologyTestDriver with the real all-MiniLM-L6-v2 embedder. */
class EmbedTopologyTest {
  private static final int MAX_BATCH = 3;
  private static final long MAX_WAIT_MS = 50;
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  private static Embedder embedder;

  @TempDir Path stateDir;
  private SimpleMeterRegistry registry;
  private TopologyTestDriver driver;
  private TestInputTopic<String, Passage> passages;
  private TestOutputTopic<String, PassageEmbedding> embeddings;

  @BeforeAll
  static void loadModel() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  @AfterAll
  static void closeModel() {
    embedder.close();
  }

  @BeforeEach
  void startDriver() {
    registry = new SimpleMeterRegistry();
    driver = new TopologyTestDriver(EmbedTopology.build(embedder, MAX_BATCH, MAX_WAIT_MS, registry,
        Indexer.DEFAULT_MAX_REQUEST_SIZE),
        Indexer.streamsConfig(IndexerConfig.defaults("unused:9092", stateDir), "embed-test"), START);
    passages = driver.createInputTopic(Topics.PASSAGES, new StringSerializer(), Topics.passageSerde().serializer());
    embeddings = driver.createOutputTopic(Topics.EMBEDDINGS, new StringDeserializer(),
        Topics.embeddingSerde().deserializer());
  }

  @AfterEach
  void closeDriver() {
    driver.close();
  }

  private static Passage passage(String docId, int n, String text) {
    return Passage.newBuilder().setDocId(docId).setN(n).setTitle("About " + docId).setText(text).setDocVersion(7)
        .setUrl("https://example.org/" + docId).build();
  }

  private void send(Passage p) {
    passages.pipeInput(p.getDocId() + "#" + p.getN(), p, START.plusSeconds(p.getN()));
  }

  /** Exact count: RocksDB's approximateNumEntries counts an overwritten key twice. */
  private long buffered() {
    KeyValueStore<String, ?> buffer = driver.getKeyValueStore(EmbedTopology.BUFFER_STORE);
    long count = 0;
    try (var it = buffer.all()) {
      while (it.hasNext()) {
        it.next();
        count++;
      }
    }
    return count;
  }

  private String hash(String key) {
    KeyValueStore<String, String> hashes = driver.getKeyValueStore(EmbedTopology.HASH_STORE);
    return hashes.get(key);
  }

  private static double dot(float[] a, List<Float> b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b.get(i);
    }
    return s;
  }

  /**
   * Fault injection on the real model: a pooling that fails on any sequence longer than 40 tokens, as a real
   * backbone may fail on one input it cannot take. The batch fails, its passages are embedded one by one, the
   * long one goes to the dead-letter topic and the others flow, and nothing is left in the buffer to replay.
   */
  @Test
  void aPassageTheEmbedderFailsOnIsDeadLetteredAndTheRestOfItsBatchFlows() {
    Pooling failsOnLongInput = new Pooling() {
      @Override
      public float[] pool(TokenStates states, int sequence) {
        long tokens = java.util.Arrays.stream(states.mask()[sequence]).sum();
        if (tokens > 40) {
          throw new IllegalStateException("cannot take " + tokens + " tokens");
        }
        return MeanPooling.INSTANCE.pool(states, sequence);
      }

      @Override
      public String name() {
        return "mean";
      }
    };
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (Embedder failing = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU),
            failsOnLongInput);
        TopologyTestDriver faulty = new TopologyTestDriver(
            EmbedTopology.build(failing, MAX_BATCH, MAX_WAIT_MS, meters, Indexer.DEFAULT_MAX_REQUEST_SIZE),
            Indexer.streamsConfig(IndexerConfig.defaults("unused:9092", stateDir.resolve("faulty")), "faulty"),
            START)) {
      TestInputTopic<String, Passage> in =
          faulty.createInputTopic(Topics.PASSAGES, new StringSerializer(), Topics.passageSerde().serializer());
      TestOutputTopic<String, PassageEmbedding> out = faulty.createOutputTopic(Topics.EMBEDDINGS,
          new StringDeserializer(), Topics.embeddingSerde().deserializer());
      TestOutputTopic<byte[], byte[]> dead = faulty.createOutputTopic(Topics.DOCUMENTS_DLQ,
          new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
          new org.apache.kafka.common.serialization.ByteArrayDeserializer());
      Passage longOne = passage("d", 1, "Kafka keeps an ordered log of records. ".repeat(12));
      in.pipeInput("d#0", passage("d", 0, "A short passage."), START);
      in.pipeInput("d#1", longOne, START);
      in.pipeInput("d#2", passage("d", 2, "Another short one."), START);

      assertThat(out.readKeyValuesToMap()).containsOnlyKeys("d#0", "d#2");
      TestRecord<byte[], byte[]> letter = dead.readRecord();
      assertThat(new String(letter.key(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("d#1");
      assertThat(Topics.passageSerde().decode(letter.value())).isEqualTo(longOne);
      assertThat(new String(letter.headers().lastHeader(Topics.HEADER_STAGE).value(),
          java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(EmbedTopology.STAGE_EMBED);
      assertThat(new String(letter.headers().lastHeader(Topics.HEADER_ERROR).value(),
          java.nio.charset.StandardCharsets.UTF_8)).contains("cannot take");
      assertThat(dead.isEmpty()).isTrue();
      KeyValueStore<String, ?> buffer = faulty.getKeyValueStore(EmbedTopology.BUFFER_STORE);
      try (var it = buffer.all()) {
        assertThat(it.hasNext()).as("nothing left to replay").isFalse();
      }
      assertThat(meters.get("d2search.embed.dead.letters").counter().count()).isEqualTo(1);
      assertThat(meters.get("d2search.embed.passages").counter().count()).isEqualTo(2);
    }
  }

  @Test
  void fullBufferIsEmbeddedAtOnce() {
    Passage first = passage("doc", 0, "Kafka keeps an ordered log of records.");
    send(first);
    send(passage("doc", 1, "Streams keep state in local stores."));
    assertThat(embeddings.isEmpty()).isTrue();
    assertThat(buffered()).isEqualTo(2);

    send(passage("doc", 2, "Lucene builds a graph of vectors."));

    List<TestRecord<String, PassageEmbedding>> out = embeddings.readRecordsToList();
    assertThat(out).extracting(TestRecord::key).containsExactlyInAnyOrder("doc#0", "doc#1", "doc#2");
    TestRecord<String, PassageEmbedding> record = out.stream().filter(r -> r.key().equals("doc#0")).findFirst()
        .orElseThrow();
    PassageEmbedding e = record.value();
    String embedded = EmbedText.of(first.getTitle(), first.getText());
    assertThat(e.getDocId()).isEqualTo("doc");
    assertThat(e.getN()).isZero();
    assertThat(e.getModelVersion()).isEqualTo(embedder.info().version());
    assertThat(e.getTextHash()).isEqualTo(TextHash.sha256(embedded));
    assertThat(e.getTitle()).isEqualTo("About doc");
    assertThat(e.getText()).isEqualTo(first.getText());
    assertThat(e.getDocVersion()).isEqualTo(7);
    assertThat(e.getUrl()).isEqualTo("https://example.org/doc");
    assertThat(record.timestamp()).isEqualTo(START.toEpochMilli());
    assertThat(e.getVector()).hasSize(embedder.info().dimension());
    float[] expected = embedder.embed(embedded);
    assertThat(dot(expected, e.getVector())).as("same vector as embedding the text alone").isCloseTo(1.0, within(1e-4));
    assertThat(e.getVector().stream().mapToDouble(v -> v * v).sum()).isCloseTo(1.0, within(1e-4));

    assertThat(buffered()).isZero();
    // Model and embedded text, then (the passage has a URL) what it carries besides.
    assertThat(hash("doc#0")).startsWith(embedder.info().version() + ":" + TextHash.sha256(embedded) + ":");
    assertThat(registry.get("d2search.embed.batch.size").summary().count()).isEqualTo(1);
    assertThat(registry.get("d2search.embed.batch.size").summary().totalAmount()).isEqualTo(3);
    assertThat(registry.get("d2search.embed.passages").counter().count()).isEqualTo(3);
    assertThat(registry.get("d2search.embed.latency").timer().count()).isEqualTo(1);
  }

  @Test
  void partialBufferIsEmbeddedWhenTheWallClockAdvances() {
    send(passage("doc", 0, "A lone passage."));
    send(passage("doc", 1, "And another one."));
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS / 2));
    assertThat(embeddings.isEmpty()).isTrue();

    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));

    assertThat(embeddings.readKeyValuesToList()).extracting(kv -> kv.key).containsExactlyInAnyOrder("doc#0", "doc#1");
    assertThat(buffered()).isZero();
    assertThat(registry.get("d2search.embed.batch.size").summary().max()).isEqualTo(2);
    // Buffered at START, embedded at the punctuation after 1.5 periods.
    assertThat(registry.get("d2search.embed.queue.time").timer().max(TimeUnit.MILLISECONDS))
        .isGreaterThanOrEqualTo(MAX_WAIT_MS);
  }

  @Test
  void aLonePassageGoesOnceTheInputIsIdleForAPunctuationPeriod() {
    long period = EmbedProcessor.punctuationPeriodMs(MAX_WAIT_MS);
    send(passage("doc", 0, "A trickle of one."));
    driver.advanceWallClockTime(Duration.ofMillis(period));
    assertThat(embeddings.isEmpty()).as("it arrived during this period").isTrue();

    driver.advanceWallClockTime(Duration.ofMillis(period));

    assertThat(embeddings.readKeyValuesToList()).extracting(kv -> kv.key).containsExactly("doc#0");
    assertThat(registry.get("d2search.embed.queue.time").timer().max(TimeUnit.MILLISECONDS))
        .isLessThan(MAX_WAIT_MS);
  }

  @Test
  void aSteadyStreamIsBatchedUntilTheOldestHasWaitedMaxWait() {
    long period = EmbedProcessor.punctuationPeriodMs(MAX_WAIT_MS);
    // A passage every period, drafts of two (fewer than MAX_BATCH pending, so only the deadline can flush them).
    int sent = 0;
    long waited = 0;
    while (waited < MAX_WAIT_MS) {
      send(passage("doc", sent % 2, "Draft " + sent + " of a steady stream."));
      sent++;
      driver.advanceWallClockTime(Duration.ofMillis(period));
      waited += period;
      if (waited < MAX_WAIT_MS) {
        assertThat(embeddings.isEmpty()).as("after %d ms", waited).isTrue();
      }
    }
    assertThat(embeddings.readKeyValuesToList()).extracting(kv -> kv.value.getText())
        .containsExactlyInAnyOrder("Draft " + (sent - 2) + " of a steady stream.",
            "Draft " + (sent - 1) + " of a steady stream.");
    assertThat(registry.get("d2search.embed.batch.size").summary().count()).isEqualTo(1);
  }

  @Test
  void aPassageArrivingJustBeforeAPunctuationWaitsForMoreInsteadOfGoingAlone() {
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS - 1)); // the next punctuation is 1 ms away
    send(passage("doc", 0, "Arrives right before the punctuation."));
    driver.advanceWallClockTime(Duration.ofMillis(1));
    send(passage("doc", 1, "Arrives after it."));
    assertThat(embeddings.isEmpty()).isTrue();

    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));

    assertThat(embeddings.readKeyValuesToList()).hasSize(2);
    assertThat(registry.get("d2search.embed.batch.size").summary().max()).isEqualTo(2);
  }

  @Test
  void unchangedTextIsNotEmbeddedAgain() {
    Passage p = passage("doc", 0, "The same words as before.");
    send(p);
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readKeyValuesToList()).hasSize(1);

    Passage sameText = Passage.newBuilder(p).setDocVersion(8).build();
    send(sameText);
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.isEmpty()).isTrue();
    assertThat(buffered()).isZero();
    assertThat(registry.get("d2search.embed.skipped.unchanged").counter().count()).isEqualTo(1);

    send(Passage.newBuilder(p).setText("Different words now.").build());
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readValue().getText()).isEqualTo("Different words now.");
  }

  /** Hybrid retrieval: attributes are filtered on, so a change of them alone must reach the index. */
  @Test
  void aChangeOfAttributesOrUrlAloneIsWrittenAgain() {
    Passage p = passage("doc", 0, "The same words as before.");
    send(p);
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readValue().getAttributes()).isEmpty();

    send(Passage.newBuilder(p).setAttributes(java.util.Map.of("lang", "en")).build());
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readValue().getAttributes()).containsEntry("lang", "en");

    send(Passage.newBuilder(p).setAttributes(java.util.Map.of("lang", "en")).build());
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.isEmpty()).as("unchanged again").isTrue();

    send(Passage.newBuilder(p).setAttributes(java.util.Map.of("lang", "en")).setUrl("https://example.org/moved")
        .build());
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readValue().getUrl()).isEqualTo("https://example.org/moved");
  }

  @Test
  void newerVersionOfAPendingPassageReplacesIt() {
    send(passage("doc", 0, "First draft."));
    send(passage("doc", 0, "Second draft."));
    assertThat(buffered()).isEqualTo(1);

    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));

    List<KeyValue<String, PassageEmbedding>> out = embeddings.readKeyValuesToList();
    assertThat(out).singleElement().satisfies(kv -> assertThat(kv.value.getText()).isEqualTo("Second draft."));
  }

  @Test
  void tombstoneIsForwardedAndDropsThePendingPassage() {
    send(passage("doc", 0, "Embedded before it was deleted."));
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    embeddings.readKeyValuesToList();
    send(passage("doc", 1, "Deleted before it was embedded."));
    assertThat(buffered()).isEqualTo(1);

    passages.pipeInput("doc#1", null);
    passages.pipeInput("doc#0", null);

    assertThat(embeddings.readKeyValuesToList())
        .containsExactly(KeyValue.pair("doc#1", null), KeyValue.pair("doc#0", null));
    assertThat(buffered()).isZero();
    assertThat(hash("doc#0")).isNull();
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.isEmpty()).isTrue();
    assertThat(registry.get("d2search.embed.tombstones").counter().count()).isEqualTo(2);

    // After its tombstone, the same text is new again.
    send(passage("doc", 0, "Embedded before it was deleted."));
    driver.advanceWallClockTime(Duration.ofMillis(MAX_WAIT_MS));
    assertThat(embeddings.readKeyValuesToList()).hasSize(1);
  }

  /**
   * A FULL release's topology (ReleaseEmbedders): the same stages with the release's model, into the release's own
   * topic, stamped with its version and tagged in the meters; a tombstone reaches that topic too, and nothing goes to
   * {@code embeddings}.
   */
  @Test
  void aFullReleasesTopologyWritesItsOwnTopic() {
    String topic = Topics.embeddingsTopicOf("7");
    EmbedderConfig d = EmbedderConfig.defaults();
    try (Embedder seven = Embedder.create(new EmbedderConfig("7", d.backbone(), d.maxTokens(), d.batchSize(),
            d.intraOpThreads(), ExecutionProvider.CPU));
        TopologyTestDriver full = new TopologyTestDriver(EmbedTopology.build(seven, MAX_BATCH, MAX_WAIT_MS,
            registry, Indexer.DEFAULT_MAX_REQUEST_SIZE, topic, new PassageRate(1000)),
            Indexer.streamsConfig(IndexerConfig.defaults("unused:9092", stateDir.resolve("full")), "embed-7"),
            START)) {
      TestInputTopic<String, Passage> in = full.createInputTopic(Topics.PASSAGES, new StringSerializer(),
          Topics.passageSerde().serializer());
      TestOutputTopic<String, PassageEmbedding> out = full.createOutputTopic(topic, new StringDeserializer(),
          Topics.embeddingSerde().deserializer());
      TestOutputTopic<String, PassageEmbedding> serving = full.createOutputTopic(Topics.EMBEDDINGS,
          new StringDeserializer(), Topics.embeddingSerde().deserializer());
      for (int n = 0; n < MAX_BATCH; n++) {
        Passage p = passage("doc", n, "Passage number " + n + " of the document.");
        in.pipeInput("doc#" + n, p, START.plusSeconds(n));
      }
      in.pipeInput("doc#1", null);

      List<KeyValue<String, PassageEmbedding>> written = out.readKeyValuesToList();
      assertThat(written).extracting(kv -> kv.key).containsExactly("doc#0", "doc#1", "doc#2", "doc#1");
      assertThat(written.subList(0, 3)).allSatisfy(kv -> assertThat(kv.value.getModelVersion()).isEqualTo("7"));
      assertThat(written.get(3).value).isNull();
      assertThat(serving.isEmpty()).isTrue();
      assertThat(registry.get("d2search.embed.passages").tag("topic", topic).counter().count()).isEqualTo(3);
    }
  }
}
