package io.d2search.broker;

import static io.d2search.broker.KafkaClients.consume;
import static io.d2search.broker.KafkaClients.produce;
import static io.d2search.broker.KafkaClients.records;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;
import org.testcontainers.DockerClientFactory;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TestKafkaTest {
  private static final BooleanSupplier NO_DOCKER = () -> false;
  private static final BooleanSupplier DOCKER = () -> true;
  private static final BooleanSupplier NOT_ASKED = () -> {
    throw new AssertionError("asked for Docker in embedded mode");
  };

  @TempDir Path dir;

  @Test
  void embeddedByDefaultCreatesTopicsIdempotently() throws Exception {
    TestKafka kafka = TestKafka.start(dir, "");
    try {
      assertThat(kafka.isContainer()).isFalse();
      assertThat(kafka.bootstrapServers()).startsWith("127.0.0.1:");
      kafka.createTopics(new NewTopic("twice", 2, (short) 1));
      kafka.createTopics(new NewTopic("twice", 2, (short) 1)); // exists: left as it is
      Map<String, String> sent = records("twice", 5);
      produce(kafka.bootstrapServers(), "twice", sent);
      assertThat(consume(kafka.bootstrapServers(), "twice", sent.size(), false)).isEqualTo(sent);
    } finally {
      kafka.close();
    }
    kafka.close(); // again: nothing
    assertThatThrownBy(() -> kafka.createTopics(new NewTopic("late", 1, (short) 1)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void containerWithoutDockerAbortsInsteadOfFailing() {
    Assumptions.assumeFalse(DockerClientFactory.instance().isDockerAvailable(), "a Docker engine is available");
    assertThatThrownBy(() -> TestKafka.start(dir, TestKafka.CONTAINER))
        .isInstanceOf(TestAbortedException.class).hasMessageContaining("Docker");
  }

  @Test
  void conditionDisablesOnlyContainerModeWithoutDocker() {
    assertThat(TestKafka.DockerCondition.evaluate("", NOT_ASKED, NOT_ASKED, false).isDisabled()).isFalse();
    assertThat(TestKafka.DockerCondition.evaluate(TestKafka.EMBEDDED, NOT_ASKED, NOT_ASKED, true).isDisabled())
        .isFalse();
    assertThat(TestKafka.DockerCondition.evaluate(" Container ", DOCKER, DOCKER, false).isDisabled()).isFalse();
    ConditionEvaluationResult skipped = TestKafka.DockerCondition.evaluate(TestKafka.CONTAINER, NO_DOCKER, NOT_ASKED,
        true);
    assertThat(skipped.isDisabled()).isTrue();
    assertThat(skipped.getReason()).get().asString().contains("Docker");
  }

  @Test
  void conditionSkipsAMissingImageUnlessContainersAreRequired() {
    ConditionEvaluationResult skipped = TestKafka.DockerCondition.evaluate(TestKafka.CONTAINER, DOCKER, NO_DOCKER,
        false);
    assertThat(skipped.isDisabled()).isTrue();
    assertThat(skipped.getReason()).get().asString().contains("deploy/images/build.sh");
    assertThat(TestKafka.DockerCondition.evaluate(TestKafka.CONTAINER, DOCKER, NO_DOCKER, true).isDisabled())
        .as("required: runs, and fails with the build command").isFalse();
  }

  @Test
  void rejectsAnUnknownMode() {
    assertThatThrownBy(() -> TestKafka.start(dir, "zookeeper"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(TestKafka.BROKER_PROPERTY);
    assertThatThrownBy(() -> TestKafka.DockerCondition.evaluate("zookeeper", NOT_ASKED, NOT_ASKED, false))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
