package io.d2search.broker;

import static io.d2search.broker.KafkaClients.consume;
import static io.d2search.broker.KafkaClients.produce;
import static io.d2search.broker.KafkaClients.produceTransactionally;
import static io.d2search.broker.KafkaClients.records;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the embedded broker accepts also works on the container cluster, and the cluster replicates: plain and
 * transactional round trips, topics with three replicas, and writes with {@code acks=all} and reads that go on
 * while one node is down and after it rejoins. Runs with {@code -Dd2search.test.broker=container} only (the
 * embedded broker has one node to stop); skipped where no Docker engine runs.
 */
@ExtendWith(TestKafka.DockerCondition.class)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class KafkaClusterIT {
  @TempDir static Path dir;
  static TestKafka kafka;

  @BeforeAll
  static void start() {
    Assumptions.assumeTrue(TestKafka.CONTAINER.equals(System.getProperty(TestKafka.BROKER_PROPERTY)),
        "the container cluster only");
    kafka = TestKafka.start(dir.resolve("kafka"));
  }

  @AfterAll
  static void stop() {
    if (kafka != null) {
      kafka.close();
    }
  }

  @Test
  void producesAndConsumes() throws Exception {
    Map<String, String> sent = records("cluster", 10);

    produce(kafka.bootstrapServers(), "smoke", sent);

    assertThat(consume(kafka.bootstrapServers(), "smoke", sent.size(), false)).isEqualTo(sent);
  }

  @Test
  void transactionalCommitIsVisibleToReadCommittedConsumers() {
    Map<String, String> sent = records("cluster-tx", 5);

    produceTransactionally(kafka.bootstrapServers(), "smoke-tx", sent);

    assertThat(consume(kafka.bootstrapServers(), "smoke-tx", sent.size(), true)).isEqualTo(sent);
  }

  @Test
  void topicsHaveThreeReplicasAndSurviveOneNodeDown() throws Exception {
    kafka.createTopics(new NewTopic("replicated", 3, kafka.replicationFactor()));
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
      TopicDescription topic = admin.describeTopics(List.of("replicated")).allTopicNames()
          .get(30, TimeUnit.SECONDS).get("replicated");
      assertThat(topic.partitions()).allSatisfy(p -> assertThat(p.replicas()).hasSize(3));
    }
    KafkaCluster cluster = kafka.cluster().orElseThrow();
    Map<String, String> before = records("before", 5);
    produce(kafka.bootstrapServers(), "replicated", before);

    cluster.stop(2);
    try {
      // Two of three replicas are in sync: acks=all still succeeds, and everything written is still readable.
      Map<String, String> during = records("during", 5);
      produce(kafka.bootstrapServers(), "replicated", during);
      Map<String, String> both = new HashMap<>(before);
      both.putAll(during);
      assertThat(consume(kafka.bootstrapServers(), "replicated", both.size(), false)).isEqualTo(both);
    } finally {
      cluster.start(2);
    }
    Map<String, String> after = records("after", 5);
    produce(kafka.bootstrapServers(), "replicated", after);
    assertThat(consume(kafka.bootstrapServers(), "replicated", 15, false)).containsAllEntriesOf(after);
  }
}
