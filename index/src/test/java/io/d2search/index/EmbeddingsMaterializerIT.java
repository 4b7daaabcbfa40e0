package io.d2search.index;

import io.d2search.testkit.Randomized;
import static io.d2search.testkit.Randomized.unitVector;
import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The materialiser against a real broker ({@link TestKafka}: embedded, or a container), with random unit vectors
 * instead of a model.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class EmbeddingsMaterializerIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String VERSION = "0";
  private static final int DIM = 16;
  private static final int PARTITIONS = 3;

  @TempDir static Path dir;
  private static TestKafka kafka;

  @BeforeAll
  static void start() {
    kafka = TestKafka.start(dir.resolve("kafka"));
  }

  @AfterAll
  static void stop() {
    if (kafka != null) {
      kafka.close();
    }
  }

  private static MaterializerConfig config(String topic) {
    // Commits only on close unless a test says otherwise.
    return MaterializerConfig.defaults(kafka.bootstrapServers()).withTopic(topic)
        .withCommitIntervalMs(3_600_000).withCommitMaxRecords(Integer.MAX_VALUE);
  }

  @Test
  void waitsForTheTopicToExistThenMaterialisesIt(TestInfo test) throws Exception {
    Random random = Randomized.random(test.getDisplayName());
    String topic = "late-" + UUID.randomUUID();
    try (PassageIndex index = PassageIndex.open(dir.resolve("late"), VERSION, IndexConfig.defaults());
        EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, config(topic),
            new SimpleMeterRegistry())) {
      assertThat(materializer.awaitCaughtUp(Duration.ofMillis(1500))).isFalse();
      assertThat(materializer.lag()).isEqualTo(-1);
      kafka.createTopics(new NewTopic(topic, PARTITIONS, kafka.replicationFactor()));
      Map<String, PassageEmbedding> records = new LinkedHashMap<>();
      for (int i = 0; i < 20; i++) {
        records.put("d" + i + "#0", Embeddings.of("d" + i, 0, VERSION, unitVector(random, DIM), "text " + i));
      }
      produceTransactionally(topic, records);
      assertThat(materializer.awaitCaughtUp(TIMEOUT)).isTrue();
      await(() -> index.size() == 20);
      assertThat(materializer.appliedRecords()).isEqualTo(20);
    }
  }

  @Test
  void commitsOnTheIntervalWhileRunning(TestInfo test) throws Exception {
    Random random = Randomized.random(test.getDisplayName());
    String topic = "interval-" + UUID.randomUUID();
    kafka.createTopics(new NewTopic(topic, PARTITIONS, kafka.replicationFactor()));
    Path indexDir = dir.resolve("interval");
    Map<TopicPartition, Long> end;
    try (PassageIndex index = PassageIndex.open(indexDir, VERSION, IndexConfig.defaults());
        EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index,
            config(topic).withCommitIntervalMs(200), new SimpleMeterRegistry())) {
      Map<String, PassageEmbedding> records = new LinkedHashMap<>();
      for (int i = 0; i < 10; i++) {
        records.put("d" + i + "#0", Embeddings.of("d" + i, 0, VERSION, unitVector(random, DIM), "text " + i));
      }
      produceTransactionally(topic, records);
      Map<TopicPartition, Long> settled = settledEndOffsets(topic);
      assertThat(settled.values().stream().mapToLong(Long::longValue).sum()).isGreaterThan(records.size());
      await(() -> index.committedOffsets().equals(settled));
      end = settled;
      assertThat(materializer.caughtUp()).isTrue();
    }
    try (PassageIndex index = PassageIndex.open(indexDir, VERSION, IndexConfig.defaults())) {
      assertThat(index.committedOffsets()).isEqualTo(end);
      assertThat(index.size()).isEqualTo(10);
    }
  }

  @Test
  void aCrashReplaysFromTheLastCommitToTheSameIndex(TestInfo test) throws Exception {
    Random random = Randomized.random(test.getDisplayName());
    String topic = "replay-" + UUID.randomUUID();
    kafka.createTopics(new NewTopic(topic, PARTITIONS, kafka.replicationFactor()));
    Path indexDir = dir.resolve("replay");
    Map<String, PassageEmbedding> expected = new HashMap<>();

    // Phase A, committed by a clean close.
    produceOps(topic, random, Randomized.atLeast(150), expected);
    Map<TopicPartition, Long> endA = settledEndOffsets(topic);
    try (PassageIndex index = PassageIndex.open(indexDir, VERSION, IndexConfig.defaults());
        EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, config(topic),
            new SimpleMeterRegistry())) {
      assertThat(materializer.awaitCaughtUp(TIMEOUT)).isTrue();
    }

    // Phase B, applied and searchable, then lost: the index closes under the materialiser before it commits.
    int phaseB = produceOps(topic, random, Randomized.atLeast(150), expected);
    settledEndOffsets(topic); // "caught up" is the end at start: all of phase B's markers must be in
    PassageIndex crashing = PassageIndex.open(indexDir, VERSION, IndexConfig.defaults());
    assertThat(crashing.committedOffsets()).isEqualTo(endA);
    EmbeddingsMaterializer doomed = EmbeddingsMaterializer.start(crashing, config(topic), new SimpleMeterRegistry());
    assertThat(doomed.awaitCaughtUp(TIMEOUT)).isTrue();
    assertThat(doomed.appliedRecords()).isEqualTo(phaseB);
    crashing.close();
    doomed.close(); // its final commit fails: the index is gone

    // Restart: resume from the end of phase A, replay phase B.
    try (PassageIndex index = PassageIndex.open(indexDir, VERSION, IndexConfig.defaults());
        EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, config(topic),
            new SimpleMeterRegistry())) {
      assertThat(index.committedOffsets()).isEqualTo(endA);
      assertThat(materializer.awaitCaughtUp(TIMEOUT)).isTrue();
      assertThat(materializer.appliedRecords()).isEqualTo(phaseB);
      assertThat(index.size()).as("no duplicates, no gaps").isEqualTo(expected.size());
      expected.forEach((key, value) ->
          assertThat(index.get(key)).as(key).get().extracting(StoredPassage::textHash).isEqualTo(value.getTextHash()));
    }
  }

  /**
   * Produces {@code count} upserts and tombstones over a small key space, in transactions of up to 40, and
   * applies them to {@code expected}; returns how many were produced.
   */
  private static int produceOps(String topic, Random random, int count, Map<String, PassageEmbedding> expected) {
    int produced = 0;
    while (produced < count) {
      // One map per transaction: a key at most once, so the order within a transaction does not matter.
      Map<String, PassageEmbedding> batch = new LinkedHashMap<>();
      int size = Math.min(count - produced, 1 + random.nextInt(40));
      while (batch.size() < size) {
        int doc = random.nextInt(80);
        String key = "doc" + doc + "#0";
        PassageEmbedding value = random.nextInt(4) == 0 ? null
            : Embeddings.of("doc" + doc, 0, VERSION, unitVector(random, DIM), "text " + random.nextLong());
        batch.put(key, value);
      }
      produceTransactionally(topic, batch);
      batch.forEach((key, value) -> {
        if (value == null) {
          expected.remove(key);
        } else {
          expected.put(key, value);
        }
      });
      produced += batch.size();
    }
    return produced;
  }

  private static void produceTransactionally(String topic, Map<String, PassageEmbedding> records) {
    Map<String, Object> props = new HashMap<>();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "it-" + UUID.randomUUID());
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
      producer.initTransactions();
      producer.beginTransaction();
      records.forEach((key, value) ->
          producer.send(new ProducerRecord<>(topic, key, Topics.embeddingSerde().encode(value))));
      producer.commitTransaction();
    }
  }

  private static Map<TopicPartition, Long> endOffsets(String topic) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (int p = 0; p < PARTITIONS; p++) {
        partitions.add(new TopicPartition(topic, p));
      }
      return Map.copyOf(consumer.endOffsets(partitions, TIMEOUT));
    }
  }

  /**
   * The end offsets (last stable offsets) once they stop moving: commitTransaction returns before every partition
   * has its commit marker (on a replicated cluster, visibly so), and until its marker lands a partition's last
   * stable offset stays before the transaction's records.
   */
  private static Map<TopicPartition, Long> settledEndOffsets(String topic) {
    Map<TopicPartition, Long> previous = endOffsets(topic);
    while (true) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
      Map<TopicPartition, Long> now = endOffsets(topic);
      if (now.equals(previous)) {
        return now;
      }
      previous = now;
    }
  }

  private static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }
}
