package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.events.PassageEmbedding;
import io.d2search.ingest.Chunker;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole indexer against a real broker with the real embedder: the embedded KRaft broker, or a Kafka container
 * with {@code -Dd2search.test.broker=container} (skipped where no Docker engine runs); see {@link TestKafka}.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class IndexerIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static Embedder embedder;

  @BeforeAll
  static void start() {
    kafka = TestKafka.start(dir.resolve("kafka"));
    // Topics up front: creating them while the applications start would trigger extra rebalances.
    assertThat(createTopics(kafka)).containsExactlyElementsOf(IndexerTopics.NAMES);
    assertThat(createTopics(kafka)).as("second call creates nothing").isEmpty();
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  /** The indexer's topics, two partitions each, replicated as {@code kafka} replicates. */
  private static Set<String> createTopics(TestKafka kafka) {
    return IndexerTopics.createIfMissing(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
        2, kafka.replicationFactor(), IndexerTopics.DEFAULT_TIMEOUT);
  }

  @AfterAll
  static void stop() {
    if (embedder != null) {
      embedder.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  @Test
  void indexesGoodDocumentsAndDeadLettersGarbage() throws Exception {
    IndexerConfig config = IndexerConfig.defaults(kafka.bootstrapServers(), dir.resolve("state"))
        .withApplicationIdPrefix("it");
    DocumentEvent first = document("doc-a", "Kafka keeps an ordered log of records. Consumers read it at their pace.");
    DocumentEvent second = document("doc-b", "Lucene builds a graph of vectors. Queries walk it to near neighbours.");
    byte[] garbage = "{\"id\": \"not avro\"}".getBytes(StandardCharsets.UTF_8);
    Chunker chunker = new Chunker(embedder.tokenizer(), config.chunker());
    Set<String> expectedKeys = new HashSet<>();
    for (DocumentEvent d : List.of(first, second)) {
      IntStream.range(0, chunker.chunk(d.getBody()).size()).forEach(n -> expectedKeys.add(d.getId() + "#" + n));
    }

    // Step 1: start the indexer.
    try (Indexer indexer = new Indexer(config, embedder, new SimpleMeterRegistry())) {
      indexer.start();
      assertThat(indexer.awaitRunning(TIMEOUT)).as("running within %s: %s", TIMEOUT, indexer.state()).isTrue();
      assertThat(indexer.isRunning()).isTrue();

      // Step 2: a good document, garbage, another good document.
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(kafka.bootstrapServers()))) {
        for (ProducerRecord<byte[], byte[]> r : List.of(
            record(first.getId(), Topics.documentSerde().encode(first)),
            record("junk", garbage),
            record(second.getId(), Topics.documentSerde().encode(second)))) {
          producer.send(r).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
      }

      // Step 3: embeddings of both documents arrive (committed), the garbage is in the dead-letter topic.
      Map<String, PassageEmbedding> embeddings = consume(kafka.bootstrapServers(), Topics.EMBEDDINGS, new StringDeserializer(),
          Topics.embeddingSerde().deserializer(), seen -> seen.keySet().containsAll(expectedKeys));
      // Topics are shared by this class's tests: look at this test's documents only.
      assertThat(embeddings.keySet()).filteredOn(k -> k.startsWith("doc-a#") || k.startsWith("doc-b#"))
          .containsExactlyInAnyOrderElementsOf(expectedKeys);
      assertThat(embeddings.values()).allSatisfy(e -> {
        assertThat(e.getVector()).hasSize(embedder.info().dimension());
        assertThat(e.getModelVersion()).isEqualTo(embedder.info().version());
      });
      assertThat(embeddings.get("doc-b#0").getText()).startsWith("Lucene builds");

      List<ConsumerRecord<byte[], byte[]>> dead = consumeRecords(kafka.bootstrapServers(), Topics.DOCUMENTS_DLQ, Integer.MAX_VALUE,
          r -> !java.util.Arrays.equals(r.key(), "doc-big".getBytes(StandardCharsets.UTF_8)));
      assertThat(dead).singleElement().satisfies(r -> {
        assertThat(r.key()).isEqualTo("junk".getBytes(StandardCharsets.UTF_8));
        assertThat(r.value()).isEqualTo(garbage);
        assertThat(header(r, Topics.HEADER_STAGE)).isEqualTo(ChunkTopology.STAGE_DECODE);
        assertThat(header(r, Topics.HEADER_ERROR)).contains("Not a valid DocumentEvent");
        assertThat(header(r, Topics.HEADER_SOURCE_TOPIC)).isEqualTo(Topics.DOCUMENTS);
        assertThat(header(r, Topics.HEADER_SOURCE_PARTITION)).isNotBlank();
        assertThat(header(r, Topics.HEADER_SOURCE_OFFSET)).isNotBlank();
      });

      assertThat(indexer.close(TIMEOUT)).isTrue();
      assertThat(indexer.state()).isEqualTo(
          new Indexer.State(KafkaStreams.State.NOT_RUNNING, KafkaStreams.State.NOT_RUNNING));
    }
  }

  /**
   * Finding 1 of the reliability issue: a document the broker accepts but validation rejects, so close to the
   * record size limit that its dead letter (the same bytes plus reason headers) no longer fits. Before the fix the
   * DLQ send failed with RecordTooLargeException, the stream thread was replaced and failed again on the same record
   * forever, and no later document was indexed.
   */
  @Test
  void aDeadLetterNearTheRecordSizeLimitDoesNotStopIngestion() throws Exception {
    IndexerConfig config = IndexerConfig.defaults(kafka.bootstrapServers(), dir.resolve("state-poison"))
        .withApplicationIdPrefix("it-poison");
    // 1,048,482 bytes of value, as in the report: over the validator's 1,000,000 characters, under the
    // producer's and broker's 1 MiB.
    int overhead = Topics.documentSerde().encode(document("doc-big", "x".repeat(1_048_400))).length - 1_048_400;
    DocumentEvent big = document("doc-big", "x".repeat(1_048_482 - overhead));
    byte[] bigBytes = Topics.documentSerde().encode(big);
    assertThat(bigBytes).hasSize(1_048_482);
    List<DocumentEvent> after = List.of(
        document("doc-after-1", "Brokers replicate partitions to followers. Followers fetch from the leader."),
        document("doc-after-2", "Transactions make a read-process-write cycle atomic across partitions."),
        document("doc-after-3", "Compaction keeps the latest record per key and drops older ones."),
        document("doc-after-4", "A consumer group shares the partitions of its topics among its members."));
    Chunker chunker = new Chunker(embedder.tokenizer(), config.chunker());
    Set<String> expectedKeys = new HashSet<>();
    for (DocumentEvent d : after) {
      IntStream.range(0, chunker.chunk(d.getBody()).size()).forEach(n -> expectedKeys.add(d.getId() + "#" + n));
    }

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (Indexer indexer = new Indexer(config, embedder, registry)) {
      indexer.start();
      assertThat(indexer.awaitRunning(TIMEOUT)).as("running within %s: %s", TIMEOUT, indexer.state()).isTrue();
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(kafka.bootstrapServers()))) {
        producer.send(record(big.getId(), bigBytes)).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        for (DocumentEvent d : after) {
          producer.send(record(d.getId(), Topics.documentSerde().encode(d)))
              .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
      }

      Map<String, PassageEmbedding> embeddings = consume(kafka.bootstrapServers(), Topics.EMBEDDINGS, new StringDeserializer(),
          Topics.embeddingSerde().deserializer(), seen -> seen.keySet().containsAll(expectedKeys));
      assertThat(embeddings.keySet()).as("documents sent after the oversized one are indexed")
          .containsAll(expectedKeys);

      byte[] bigKey = big.getId().getBytes(StandardCharsets.UTF_8);
      List<ConsumerRecord<byte[], byte[]>> dead = consumeRecords(kafka.bootstrapServers(), Topics.DOCUMENTS_DLQ, Integer.MAX_VALUE,
          r -> java.util.Arrays.equals(r.key(), bigKey));
      assertThat(dead).as("the oversized document reached the dead-letter topic").singleElement().satisfies(r -> {
        assertThat(header(r, Topics.HEADER_STAGE)).isEqualTo(ChunkTopology.STAGE_VALIDATE);
        assertThat(header(r, Topics.HEADER_ERROR)).contains("more than the limit of 1000000");
        assertThat(header(r, Topics.HEADER_TRUNCATED)).contains("value 1048482 bytes");
        assertThat(r.value().length).isLessThan(bigBytes.length);
        assertThat(bigBytes).startsWith(r.value());
      });
      assertThat(registry.get("d2search.indexer.thread.replacements").counters().stream().mapToDouble(c -> c.count()).sum())
          .as("no stream thread died").isZero();
    }
  }

  /**
   * A cluster whose dead-letter topic takes smaller records than the producer may send. Under exactly-once a
   * refused send fails the transaction whatever a production exception handler answers (seen here: the task
   * failed into the same refusal on every thread replacement), so the indexer reads the topic's limit at start-up
   * and cuts dead letters to it.
   */
  @Test
  void deadLettersFitADeadLetterTopicWithASmallerLimit() throws Exception {
    try (TestKafka small = TestKafka.start(dir.resolve("kafka-small-dlq"));
        Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, small.bootstrapServers()))) {
      List<NewTopic> topics = IndexerTopics.definitions(1, small.replicationFactor()).stream()
          .map(t -> t.name().equals(Topics.DOCUMENTS_DLQ)
              ? new NewTopic(t.name(), 1, small.replicationFactor()).configs(Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, "20000"))
              : t)
          .toList();
      admin.createTopics(topics).all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      IndexerConfig config = IndexerConfig.defaults(small.bootstrapServers(), dir.resolve("state-small-dlq"))
          .withApplicationIdPrefix("it-small-dlq");
      DocumentEvent big = document("doc-big", "z".repeat(1_000_001)); // over the body limit: dead-lettered
      DocumentEvent after = document("doc-after", "Leaders append to the log. Followers copy what they append.");
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      try (Indexer indexer = new Indexer(config, embedder, registry)) {
        indexer.start();
        assertThat(indexer.awaitRunning(TIMEOUT)).as("running within %s: %s", TIMEOUT, indexer.state()).isTrue();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(small.bootstrapServers()))) {
          for (DocumentEvent d : List.of(big, after)) {
            producer.send(record(d.getId(), Topics.documentSerde().encode(d)))
                .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          }
        }
        Map<String, PassageEmbedding> embeddings = consume(small.bootstrapServers(), Topics.EMBEDDINGS,
            new StringDeserializer(), Topics.embeddingSerde().deserializer(), seen -> seen.containsKey("doc-after#0"));
        assertThat(embeddings).containsKey("doc-after#0");
        List<ConsumerRecord<byte[], byte[]>> dead =
            consumeRecords(small.bootstrapServers(), Topics.DOCUMENTS_DLQ, 1, r -> true);
        assertThat(dead).singleElement().satisfies(r -> {
          assertThat(DeadLetter.serializedSizeUpperBound(r.key(), r.value(), r.headers().toArray()))
              .isLessThanOrEqualTo(20_000);
          assertThat(header(r, Topics.HEADER_TRUNCATED)).startsWith("value ");
        });
        assertThat(registry.get("d2search.indexer.thread.replacements").counters().stream()
            .mapToDouble(c -> c.count()).sum()).as("no stream thread died").isZero();
      }
    }
  }

  /**
   * Reliability issue, finding 3: health sees the indexer. Before it starts it is not ready and counts the
   * documents waiting; once everything is embedded it is ready with no lag; once closed it says stopped.
   */
  @Test
  void healthTellsWhetherTheIndexerIsRunningAndHowFarBehind() throws Exception {
    IndexerConfig config = IndexerConfig.defaults(kafka.bootstrapServers(), dir.resolve("state-health"))
        .withApplicationIdPrefix("it-health");
    List<DocumentEvent> waiting = IntStream.range(0, 12)
        .mapToObj(i -> document("doc-health-" + i, "Health checks probe readiness. Number " + i + " waits."))
        .toList();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(kafka.bootstrapServers()))) {
      for (DocumentEvent d : waiting) {
        producer.send(record(d.getId(), Topics.documentSerde().encode(d))).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
    Chunker chunker = new Chunker(embedder.tokenizer(), config.chunker());
    Set<String> expectedKeys = new HashSet<>();
    for (DocumentEvent d : waiting) {
      IntStream.range(0, chunker.chunk(d.getBody()).size()).forEach(n -> expectedKeys.add(d.getId() + "#" + n));
    }
    try (Indexer indexer = new Indexer(config, embedder, new SimpleMeterRegistry())) {
      IndexerHealth before = indexer.health(0);
      assertThat(before.ready()).isFalse();
      assertThat(before.status()).isEqualTo("starting");
      assertThat(before.lag().get(Topics.DOCUMENTS)).as("a new group has every document to read")
          .isGreaterThanOrEqualTo(waiting.size());

      indexer.start();
      assertThat(indexer.awaitRunning(TIMEOUT)).isTrue();
      consume(kafka.bootstrapServers(), Topics.EMBEDDINGS, new StringDeserializer(),
          Topics.embeddingSerde().deserializer(), seen -> seen.keySet().containsAll(expectedKeys));
      IndexerHealth after = indexer.health(0);
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (!after.ready() && System.nanoTime() < deadline) {
        Thread.sleep(200);
        after = indexer.health(0);
      }
      assertThat(after.ready()).as("ready once caught up: %s", after).isTrue();
      assertThat(after.lag()).containsEntry(Topics.DOCUMENTS, 0L).containsEntry(Topics.PASSAGES, 0L);

      indexer.close(TIMEOUT);
      IndexerHealth closed = indexer.health(0);
      assertThat(closed.ready()).isFalse();
      assertThat(closed.status()).isEqualTo("stopped");
    }
  }

  /**
   * Part of the reliability issue's fault-injection suite, short enough for CI: a burst of 1,000 malformed records
   * of 14 kinds mixed with 60 good documents, on a broker of its own. Every malformed record reaches the
   * dead-letter topic with a stage and a reason, every good document is indexed, no stream thread dies. Prints a
   * table of kinds, records sent and dead-lettered.
   */
  @Test
  void aBurstOfMalformedRecordsIsDeadLetteredWhileGoodDocumentsFlow() throws Exception {
    Map<String, java.util.function.IntFunction<ProducerRecord<byte[], byte[]>>> kinds = new java.util.LinkedHashMap<>();
    kinds.put("not Avro", i -> record("burst-" + i, ("{\"id\": " + i + "}").getBytes(StandardCharsets.UTF_8)));
    kinds.put("empty value", i -> record("burst-" + i, new byte[0]));
    kinds.put("tombstone", i -> record("burst-" + i, null));
    kinds.put("truncated record", i -> {
      byte[] good = Topics.documentSerde().encode(document("burst-" + i, "A body that will be cut short."));
      return record("burst-" + i, java.util.Arrays.copyOf(good, good.length / 2));
    });
    kinds.put("unknown fingerprint", i -> {
      byte[] b = Topics.documentSerde().encode(document("burst-" + i, "Fingerprint flipped."));
      b[5] ^= 0x5A;
      return record("burst-" + i, b);
    });
    kinds.put("trailing bytes", i -> {
      byte[] good = Topics.documentSerde().encode(document("burst-" + i, "Bytes follow the record."));
      return record("burst-" + i, java.util.Arrays.copyOf(good, good.length + 4));
    });
    kinds.put("invalid UTF-8 body", i -> {
      byte[] b = Topics.documentSerde().encode(document("burst-" + i, "Zebras are striped."));
      for (int j = 10; j < b.length; j++) {
        if (b[j] == 'Z') {
          b[j] = (byte) 0xFF;
          break;
        }
      }
      return record("burst-" + i, b);
    });
    kinds.put("key is not the id", i -> record("burst-other-" + i,
        Topics.documentSerde().encode(document("burst-" + i, "Keyed wrongly."))));
    kinds.put("no key", i -> new ProducerRecord<>(Topics.DOCUMENTS, null,
        Topics.documentSerde().encode(document("burst-" + i, "No key at all."))));
    kinds.put("key not UTF-8", i -> new ProducerRecord<>(Topics.DOCUMENTS, new byte[] {(byte) 0xC3, (byte) 0x28},
        Topics.documentSerde().encode(document("burst-" + i, "Key bytes are broken."))));
    kinds.put("id with #", i -> record("burst#" + i, Topics.documentSerde().encode(document("burst#" + i, "Hash."))));
    kinds.put("blank body", i -> record("burst-" + i, Topics.documentSerde().encode(document("burst-" + i, "  "))));
    kinds.put("negative version", i -> {
      DocumentEvent d = document("burst-" + i, "Version below zero.");
      d.setVersion(-1);
      return record("burst-" + i, Topics.documentSerde().encode(d));
    });
    kinds.put("title too long", i -> {
      DocumentEvent d = document("burst-" + i, "Title over the limit.");
      d.setTitle("t".repeat(1_001));
      return record("burst-" + i, Topics.documentSerde().encode(d));
    });
    List<String> names = List.copyOf(kinds.keySet());
    Map<String, Integer> sent = new java.util.LinkedHashMap<>();
    List<DocumentEvent> good = IntStream.range(0, 60)
        .mapToObj(i -> document("burst-good-" + i, "Good document " + i + ". It flows past the burst."))
        .toList();
    try (TestKafka own = TestKafka.start(dir.resolve("kafka-burst"))) {
      createTopics(own);
      IndexerConfig config = IndexerConfig.defaults(own.bootstrapServers(), dir.resolve("state-burst"))
          .withApplicationIdPrefix("it-burst");
      Chunker chunker = new Chunker(embedder.tokenizer(), config.chunker());
      Set<String> expectedKeys = new HashSet<>();
      for (DocumentEvent d : good) {
        IntStream.range(0, chunker.chunk(d.getBody()).size()).forEach(n -> expectedKeys.add(d.getId() + "#" + n));
      }
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      try (Indexer indexer = new Indexer(config, embedder, registry)) {
        indexer.start();
        assertThat(indexer.awaitRunning(TIMEOUT)).isTrue();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(own.bootstrapServers()))) {
          int g = 0;
          for (int i = 0; i < 1_000; i++) {
            String kind = names.get(i % names.size());
            ProducerRecord<byte[], byte[]> malformed = kinds.get(kind).apply(i);
            malformed.headers().add("burst-kind", kind.getBytes(StandardCharsets.UTF_8)); // kept by the DLQ copy
            producer.send(malformed);
            sent.merge(kind, 1, Integer::sum);
            if (i % 17 == 0 && g < good.size()) {
              DocumentEvent d = good.get(g++);
              producer.send(record(d.getId(), Topics.documentSerde().encode(d)));
            }
          }
          while (g < good.size()) {
            DocumentEvent d = good.get(g++);
            producer.send(record(d.getId(), Topics.documentSerde().encode(d)));
          }
          producer.flush();
        }
        Map<String, PassageEmbedding> embeddings = consume(own.bootstrapServers(), Topics.EMBEDDINGS,
            new StringDeserializer(), Topics.embeddingSerde().deserializer(), seen -> seen.keySet().containsAll(expectedKeys));
        assertThat(embeddings.keySet()).as("every good document indexed").containsAll(expectedKeys);
        List<ConsumerRecord<byte[], byte[]>> dead =
            consumeRecords(own.bootstrapServers(), Topics.DOCUMENTS_DLQ, 1_000, r -> true);
        assertThat(dead).as("every malformed record dead-lettered").hasSize(1_000);
        assertThat(dead).allSatisfy(r -> {
          assertThat(header(r, Topics.HEADER_STAGE)).isIn(ChunkTopology.STAGE_DECODE, ChunkTopology.STAGE_VALIDATE);
          assertThat(header(r, Topics.HEADER_ERROR)).isNotBlank();
        });
        assertThat(registry.get("d2search.indexer.thread.replacements").counters().stream()
            .mapToDouble(c -> c.count()).sum()).as("no stream thread died").isZero();
        Map<String, Integer> deadByKind = new java.util.LinkedHashMap<>();
        dead.forEach(r -> deadByKind.merge(header(r, "burst-kind"), 1, Integer::sum));
        assertThat(deadByKind).as("dead letters by kind").isEqualTo(sent);
        StringBuilder table = new StringBuilder("| malformed kind | sent | dead-lettered |\n|---|---|---|\n");
        sent.forEach((kind, n) -> table.append("| ").append(kind).append(" | ").append(n).append(" | ")
            .append(deadByKind.getOrDefault(kind, 0)).append(" |\n"));
        table.append("| good documents | ").append(good.size()).append(" | 0 (").append(expectedKeys.size())
            .append(" passages indexed) |\n");
        System.out.println(table);
      }
    }
  }

  private static DocumentEvent document(String id, String body) {
    return DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle("Title " + id).setBody(body)
        .setVersion(1).setTs(Instant.now()).build();
  }

  private static ProducerRecord<byte[], byte[]> record(String key, byte[] value) {
    return new ProducerRecord<>(Topics.DOCUMENTS, key.getBytes(StandardCharsets.UTF_8), value);
  }

  private static Map<String, Object> producerConfig(String bootstrapServers) {
    return Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
        ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
  }

  private static Map<String, Object> consumerConfig(String bootstrapServers) {
    return Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
        ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID(),
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        // Only what the exactly-once applications committed.
        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
  }

  /** Latest value per key of {@code topic}, read until {@code done} holds or {@link #TIMEOUT} passes. */
  private static <V> Map<String, V> consume(String bootstrapServers, String topic, Deserializer<String> keys, Deserializer<V> values,
      Predicate<Map<String, V>> done) {
    Map<String, V> seen = new HashMap<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    try (KafkaConsumer<String, V> consumer = new KafkaConsumer<>(consumerConfig(bootstrapServers), keys, values)) {
      consumer.subscribe(List.of(topic));
      while (!done.test(seen) && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(r -> seen.put(r.key(), r.value()));
      }
    }
    return seen;
  }

  /**
   * Records of {@code topic} that match {@code keep}, read until {@code expected} of them arrived, or until
   * {@link #TIMEOUT} passed or at least one matched and the topic then stayed quiet for a few polls.
   */
  private static List<ConsumerRecord<byte[], byte[]>> consumeRecords(String bootstrapServers, String topic,
      int expected,
      Predicate<ConsumerRecord<byte[], byte[]>> keep) {
    List<ConsumerRecord<byte[], byte[]>> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    int quietPolls = 0;
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(consumerConfig(bootstrapServers), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      while (seen.size() < expected && System.nanoTime() < deadline && (seen.isEmpty() || quietPolls < 10)) {
        var records = consumer.poll(Duration.ofMillis(200));
        quietPolls = records.isEmpty() ? quietPolls + 1 : 0;
        records.forEach(r -> {
          if (keep.test(r)) {
            seen.add(r);
          }
        });
      }
    }
    return seen;
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }
}
