package io.d2search.broker;

import static io.d2search.broker.KafkaClients.consume;
import static io.d2search.broker.KafkaClients.produce;
import static io.d2search.broker.KafkaClients.produceTransactionally;
import static io.d2search.broker.KafkaClients.readAll;
import static io.d2search.broker.KafkaClients.records;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EmbeddedKafkaTest {

  @TempDir static Path sharedDir;
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start(sharedDir, 0);
  }

  @AfterAll
  static void stopBroker() {
    if (kafka != null) {
      kafka.close();
    }
  }

  @Test
  void producesAndConsumes() throws Exception {
    kafka.createTopics(new NewTopic("plain", 3, (short) 1));
    Map<String, String> sent = records("plain", 20);

    produce(kafka.bootstrapServers(), "plain", sent);

    assertThat(consume(kafka.bootstrapServers(), "plain", sent.size(), false)).isEqualTo(sent);
  }

  @Test
  void transactionalCommitIsVisibleToReadCommittedConsumers() {
    // The transaction coordinator only works when __transaction_state can be created with RF 1 and min ISR 1.
    kafka.createTopics(new NewTopic("transactional", 1, (short) 1));
    Map<String, String> sent = records("tx", 5);

    produceTransactionally(kafka.bootstrapServers(), "transactional", sent);

    assertThat(consume(kafka.bootstrapServers(), "transactional", sent.size(), true)).isEqualTo(sent);
  }

  @Test
  void createTopicsLeavesExistingTopicsAlone() throws Exception {
    kafka.createTopics(new NewTopic("twice", 2, (short) 1));
    kafka.createTopics(new NewTopic("twice", 4, (short) 1), new NewTopic("once-more", 1, (short) 1));

    try (Admin admin = admin(kafka)) {
      assertThat(admin.describeTopics(List.of("twice")).allTopicNames().get(30, TimeUnit.SECONDS)
          .get("twice").partitions()).hasSize(2);
      assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS)).contains("twice", "once-more");
    }
  }

  @Test
  void createTopicsReportsInvalidTopics() {
    assertThatThrownBy(() -> kafka.createTopics(new NewTopic("bad", 1, (short) 3)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("bad");
  }

  @Test
  void compactsCompactedTopics() throws Exception {
    // Small segments and a low dirty ratio, as the demo may use: the log cleaner must run on this broker.
    kafka.createTopics(new NewTopic("compacted", 1, (short) 1).configs(Map.of(
        TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
        TopicConfig.SEGMENT_MS_CONFIG, "100",
        TopicConfig.MIN_CLEANABLE_DIRTY_RATIO_CONFIG, "0.01")));
    for (int version = 0; version < 5; version++) {
      produce(kafka.bootstrapServers(), "compacted", Map.of("k", "v" + version));
    }
    Thread.sleep(200); // let segment.ms pass so the next append rolls the segment holding the old versions

    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    List<ConsumerRecord<String, String>> log;
    int round = 0;
    do {
      produce(kafka.bootstrapServers(), "compacted", Map.of("filler-" + round++, "x")); // rolls the segment
      Thread.sleep(200);
      log = readAll(kafka.bootstrapServers(), "compacted");
    } while (log.stream().filter(r -> r.key().equals("k")).count() > 1 && System.nanoTime() < deadline);

    assertThat(log).filteredOn(r -> r.key().equals("k")).singleElement()
        .extracting(ConsumerRecord::value).isEqualTo("v4");
  }

  @Test
  void restartOnTheSameDataDirKeepsClusterTopicsAndRecords(@TempDir Path dir) throws Exception {
    Map<String, String> sent = new LinkedHashMap<>(records("before", 10));
    String clusterId;
    try (EmbeddedKafka first = EmbeddedKafka.start(dir, 0)) {
      first.createTopics(new NewTopic("durable", 2, (short) 1));
      produce(first.bootstrapServers(), "durable", sent);
      produceTransactionally(first.bootstrapServers(), "durable", Map.of("tx-key", "tx-value"));
      clusterId = clusterId(first);
    }
    sent.put("tx-key", "tx-value");

    long startNanos = System.nanoTime();
    try (EmbeddedKafka second = EmbeddedKafka.start(dir, 0)) {
      System.out.printf("Restart on an existing data dir took %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
      assertThat(clusterId(second)).isEqualTo(clusterId);
      try (Admin admin = admin(second)) {
        assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS)).contains("durable");
      }
      assertThat(consume(second.bootstrapServers(), "durable", sent.size(), true))
          .containsExactlyInAnyOrderEntriesOf(sent);
    }
  }

  @Test
  void closeIsIdempotentAndKeepsTheDataDir(@TempDir Path dir) {
    EmbeddedKafka broker = EmbeddedKafka.start(dir, 0);
    broker.close();
    broker.close();

    assertThat(Files.exists(dir.resolve(KraftStorage.META_PROPERTIES))).isTrue();
    assertThatThrownBy(() -> broker.createTopics(new NewTopic("late", 1, (short) 1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void rejectsBadArguments(@TempDir Path dir) {
    assertThatThrownBy(() -> EmbeddedKafka.start(dir, -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> EmbeddedKafka.start(dir, 70_000)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void failsClearlyWhenThePortIsTaken(@TempDir Path dir) {
    assertThatThrownBy(() -> EmbeddedKafka.start(dir, kafka.port()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("127.0.0.1:" + kafka.port())
        .hasMessageContaining(dir.toAbsolutePath().toString());
  }

  private static Admin admin(EmbeddedKafka broker) {
    return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
  }

  private static String clusterId(EmbeddedKafka broker) throws Exception {
    try (Admin admin = admin(broker)) {
      return admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
    }
  }
}
