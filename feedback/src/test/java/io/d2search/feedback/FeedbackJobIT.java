package io.d2search.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.events.Click;
import io.d2search.events.Impression;
import io.d2search.events.Negative;
import io.d2search.events.RankedPassage;
import io.d2search.events.TrainingExample;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The feedback join on a real broker: searches and clicks produced as the query service writes them become training
 * examples on {@code training-pairs}, read committed (the join is exactly-once); a click on a result never shown
 * reaches {@code feedback.dlq}. A restart on the same state resumes without emitting an example twice.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class FeedbackJobIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final FeedbackConfig CONFIG = FeedbackConfig.DEFAULTS.withWindow(Duration.ofMinutes(1),
      Duration.ofSeconds(10));

  @TempDir static Path dir;
  private static TestKafka kafka;

  @BeforeAll
  static void start() {
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(new NewTopic(Topics.IMPRESSIONS, 2, kafka.replicationFactor()), new NewTopic(Topics.CLICKS, 2, kafka.replicationFactor()));
    FeedbackJob.createTopicsIfMissing(Map.of("bootstrap.servers", kafka.bootstrapServers()), 2, kafka.replicationFactor(),
        Duration.ofSeconds(30));
  }

  @AfterAll
  static void stop() {
    if (kafka != null) {
      kafka.close();
    }
  }

  private static KafkaProducer<String, byte[]> producer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  private static void search(KafkaProducer<String, byte[]> producer, String queryId, Instant at, String... shown) {
    List<RankedPassage> results = new ArrayList<>();
    for (String id : shown) {
      results.add(RankedPassage.newBuilder().setPassageId(id).setScore(0.5f).build());
    }
    Impression impression = Impression.newBuilder().setQueryId(queryId).setQuery("query " + queryId)
        .setModelVersion("0").setMode("hybrid").setReranked(false).setResults(results).setTs(at).build();
    sent(producer.send(new ProducerRecord<>(Topics.IMPRESSIONS, null, at.toEpochMilli(), queryId,
        Topics.impressionSerde().encode(impression))));
  }

  private static void click(KafkaProducer<String, byte[]> producer, String queryId, String passageId, int rank,
      Instant at) {
    Click click = Click.newBuilder().setQueryId(queryId).setPassageId(passageId).setRank(rank).setDwellMs(30_000)
        .setTs(at).build();
    sent(producer.send(new ProducerRecord<>(Topics.CLICKS, null, at.toEpochMilli(), queryId,
        Topics.clickSerde().encode(click))));
  }

  private static void sent(java.util.concurrent.Future<?> send) {
    try {
      send.get(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("send failed", e);
    }
  }

  private static <V> List<ConsumerRecord<String, V>> readAll(String topic, java.util.function.Function<byte[], V> decode,
      int atLeast) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    List<ConsumerRecord<String, V>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          out.add(new ConsumerRecord<>(r.topic(), r.partition(), r.offset(), r.key(), decode.apply(r.value())));
        }
        if (out.size() >= atLeast) {
          // One more poll: anything beyond what is expected would be a duplicate.
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(2))) {
            out.add(new ConsumerRecord<>(r.topic(), r.partition(), r.offset(), r.key(), decode.apply(r.value())));
          }
          return out;
        }
      }
    }
    return out;
  }

  @Test
  void searchesAndClicksBecomeTrainingExamplesOnceAcrossARestart() throws Exception {
    // In the past: brokers refuse timestamps more than an hour ahead (log.message.timestamp.after.max.ms).
    Instant t0 = Instant.now().minus(Duration.ofMinutes(20)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Path state = dir.resolve("state");
    try (KafkaProducer<String, byte[]> producer = producer()) {
      try (FeedbackJob job = new FeedbackJob(kafka.bootstrapServers(), state, "it-feedback", CONFIG, Map.of(),
          new SimpleMeterRegistry())) {
        job.start();
        for (int q = 0; q < 20; q++) {
          Instant at = t0.plusSeconds(q);
          search(producer, "q" + q, at, "a" + q + "#0", "b" + q + "#0", "c" + q + "#0");
          click(producer, "q" + q, "c" + q + "#0", 3, at.plusSeconds(5));
        }
        click(producer, "q0", "never-shown#0", 1, t0.plusSeconds(6));
        producer.flush();
        Thread.sleep(3_000); // let the first batch be processed and committed before the restart
      }
      // A restart on the same state, then time moves on (on both partitions) past every window and grace.
      try (FeedbackJob job = new FeedbackJob(kafka.bootstrapServers(), state, "it-feedback", CONFIG, Map.of(),
          new SimpleMeterRegistry())) {
        job.start();
        for (int q = 0; q < 10; q++) {
          search(producer, "later" + q, t0.plus(Duration.ofMinutes(5)).plusSeconds(q), "z#0");
        }
        producer.flush();
        List<ConsumerRecord<String, TrainingExample>> examples = readAll(Topics.TRAINING_PAIRS,
            Topics.trainingExampleSerde()::decode, 20);
        assertThat(examples).extracting(ConsumerRecord::key).as("each search's example exactly once")
            .hasSize(20).doesNotHaveDuplicates();
        for (ConsumerRecord<String, TrainingExample> r : examples) {
          String q = r.key().substring(1);
          assertThat(r.value().getPositives()).containsExactly("c" + q + "#0");
          assertThat(r.value().getNegatives()).extracting(Negative::getPassageId)
              .containsExactly("a" + q + "#0", "b" + q + "#0");
        }
        List<ConsumerRecord<String, byte[]>> letters = readAll(Topics.FEEDBACK_DLQ, v -> v, 1);
        assertThat(letters).hasSize(1);
        assertThat(Topics.clickSerde().decode(letters.get(0).value()).getPassageId()).isEqualTo("never-shown#0");
      }
    }
  }
}
