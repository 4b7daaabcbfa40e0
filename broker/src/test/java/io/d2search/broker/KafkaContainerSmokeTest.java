package io.d2search.broker;

import static io.d2search.broker.KafkaClients.consume;
import static io.d2search.broker.KafkaClients.produce;
import static io.d2search.broker.KafkaClients.produceTransactionally;
import static io.d2search.broker.KafkaClients.records;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The same round trip against a real broker image, to check that what the embedded broker accepts also works on
 * a stock Kafka. Skipped where no Docker engine runs.
 */
@Testcontainers(disabledWithoutDocker = true)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class KafkaContainerSmokeTest {

  @Container
  static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.1.0");

  @Test
  void producesAndConsumes() throws Exception {
    Map<String, String> sent = records("container", 10);

    produce(KAFKA.getBootstrapServers(), "smoke", sent);

    assertThat(consume(KAFKA.getBootstrapServers(), "smoke", sent.size(), false)).isEqualTo(sent);
  }

  @Test
  void transactionalCommitIsVisibleToReadCommittedConsumers() {
    Map<String, String> sent = records("container-tx", 5);

    produceTransactionally(KAFKA.getBootstrapServers(), "smoke-tx", sent);

    assertThat(consume(KAFKA.getBootstrapServers(), "smoke-tx", sent.size(), true)).isEqualTo(sent);
  }
}
