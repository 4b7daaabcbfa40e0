package io.d2search.indexer;

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
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
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
    assertThat(IndexerTopics.createIfMissing(kafka.bootstrapServers(), 2)).containsExactlyElementsOf(IndexerTopics.NAMES);
    assertThat(IndexerTopics.createIfMissing(kafka.bootstrapServers(), 2)).as("second call creates nothing").isEmpty();
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
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
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig())) {
        for (ProducerRecord<byte[], byte[]> r : List.of(
            record(first.getId(), Topics.documentSerde().encode(first)),
            record("junk", garbage),
            record(second.getId(), Topics.documentSerde().encode(second)))) {
          producer.send(r).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
      }

      // Step 3: embeddings of both documents arrive (committed), the garbage is in the dead-letter topic.
      Map<String, PassageEmbedding> embeddings = consume(Topics.EMBEDDINGS, new StringDeserializer(),
          Topics.embeddingSerde().deserializer(), seen -> seen.keySet().containsAll(expectedKeys));
      assertThat(embeddings.keySet()).containsExactlyInAnyOrderElementsOf(expectedKeys);
      assertThat(embeddings.values()).allSatisfy(e -> {
        assertThat(e.getVector()).hasSize(embedder.info().dimension());
        assertThat(e.getModelVersion()).isEqualTo(embedder.info().version());
      });
      assertThat(embeddings.get("doc-b#0").getText()).startsWith("Lucene builds");

      List<ConsumerRecord<byte[], byte[]>> dead = consumeRecords(Topics.DOCUMENTS_DLQ, 1);
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

  private static DocumentEvent document(String id, String body) {
    return DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle("Title " + id).setBody(body)
        .setVersion(1).setTs(Instant.now()).build();
  }

  private static ProducerRecord<byte[], byte[]> record(String key, byte[] value) {
    return new ProducerRecord<>(Topics.DOCUMENTS, key.getBytes(StandardCharsets.UTF_8), value);
  }

  private static Map<String, Object> producerConfig() {
    return Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
        ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
  }

  private static Map<String, Object> consumerConfig() {
    return Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
        ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID(),
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        // Only what the exactly-once applications committed.
        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
  }

  /** Latest value per key of {@code topic}, read until {@code done} holds or {@link #TIMEOUT} passes. */
  private static <V> Map<String, V> consume(String topic, Deserializer<String> keys, Deserializer<V> values,
      Predicate<Map<String, V>> done) {
    Map<String, V> seen = new HashMap<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    try (KafkaConsumer<String, V> consumer = new KafkaConsumer<>(consumerConfig(), keys, values)) {
      consumer.subscribe(List.of(topic));
      while (!done.test(seen) && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(r -> seen.put(r.key(), r.value()));
      }
    }
    return seen;
  }

  /** Records of {@code topic}, read until {@code expected} arrived or {@link #TIMEOUT} passed. */
  private static List<ConsumerRecord<byte[], byte[]>> consumeRecords(String topic, int expected) {
    List<ConsumerRecord<byte[], byte[]>> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(consumerConfig(), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      while (seen.size() < expected && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(seen::add);
      }
    }
    return seen;
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }
}
