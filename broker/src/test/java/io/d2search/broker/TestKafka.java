package io.d2search.broker;

import io.d2search.schemas.TopicAdmin;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;

/**
 * The Kafka of an integration test: the {@linkplain EmbeddedKafka embedded broker} by default, or a three-node
 * {@link KafkaCluster} in containers of the locally built broker image (replication factor 3, min ISR 2) when the
 * system property {@value #BROKER_PROPERTY} is {@value #CONTAINER}, so that the same test classes run against both.
 * Tests create their topics with {@link #replicationFactor()}.
 *
 * <p>In container mode without a Docker engine the tests are skipped, not failed, at once: a class extended with
 * {@link DockerCondition} is disabled before any of it runs, and Surefire and Failsafe count each of its tests as
 * skipped. As a safety net {@link #start} itself aborts the calling test with a JUnit assumption; from
 * {@code @BeforeAll} that skips the class too, but Surefire and Failsafe then report it as no tests at all.
 *
 * <pre>{@code
 * @ExtendWith(TestKafka.DockerCondition.class)
 * class SomethingIT {
 *   @TempDir static Path dir;
 *   static TestKafka kafka;
 *
 *   @BeforeAll static void start() { kafka = TestKafka.start(dir.resolve("kafka")); }
 *   @AfterAll static void stop() { if (kafka != null) kafka.close(); }
 * }
 * }</pre>
 *
 * <p>Shipped to the other modules in the broker's {@code test-jar}; they need Testcontainers on their test class
 * path as well.
 */
public final class TestKafka implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TestKafka.class);

  /** The system property that picks the broker: {@value #EMBEDDED} (the default) or {@value #CONTAINER}. */
  public static final String BROKER_PROPERTY = "d2search.test.broker";
  /** The in-JVM KRaft broker, {@link EmbeddedKafka}. */
  public static final String EMBEDDED = "embedded";
  /** A {@link KafkaCluster} of three containers; needs a Docker engine and the broker image built locally. */
  public static final String CONTAINER = "container";
  /**
   * The system property naming the broker image, set by the build to {@code d2search-kafka:<kafka.version>}, the tag
   * {@code deploy/images/build.sh} gives it.
   */
  public static final String IMAGE_PROPERTY = "d2search.test.kafkaImage";
  /** The system property that makes a missing broker image a failure rather than a reason to skip. */
  public static final String REQUIRE_PROPERTY = "d2search.test.requireContainers";
  private static final int CLUSTER_SIZE = 3;
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
  private static final String NO_DOCKER =
      "-D" + BROKER_PROPERTY + "=" + CONTAINER + " needs a Docker engine and none is available";

  private final AutoCloseable broker;
  private final String bootstrapServers;
  private final short replicationFactor;
  private final String description;
  private final AtomicBoolean closed = new AtomicBoolean();

  private TestKafka(AutoCloseable broker, String bootstrapServers, short replicationFactor, String description) {
    this.broker = broker;
    this.bootstrapServers = bootstrapServers;
    this.replicationFactor = replicationFactor;
    this.description = description;
  }

  /**
   * Starts the broker that {@value #BROKER_PROPERTY} asks for and returns once it answers clients.
   *
   * @param dataDir the embedded broker's log dir (see {@link EmbeddedKafka#start(Path, int)}); a container keeps
   *     its log inside the container and ignores it
   * @throws org.opentest4j.TestAbortedException in container mode where no Docker engine is available
   */
  public static TestKafka start(Path dataDir) {
    return start(dataDir, System.getProperty(BROKER_PROPERTY, EMBEDDED));
  }

  /** Starts the broker of {@code mode}, {@value #EMBEDDED} or {@value #CONTAINER} (blank means embedded). */
  static TestKafka start(Path dataDir, String mode) {
    Objects.requireNonNull(dataDir, "dataDir");
    if (!isContainer(mode)) {
      EmbeddedKafka kafka = EmbeddedKafka.start(dataDir, 0);
      return new TestKafka(kafka, kafka.bootstrapServers(), (short) 1, "embedded Kafka on " + kafka.bootstrapServers());
    }
    Assumptions.assumeTrue(dockerAvailable(), NO_DOCKER);
    String image = System.getProperty(IMAGE_PROPERTY);
    if (image == null || image.isBlank()) {
      throw new IllegalStateException("-D" + IMAGE_PROPERTY + " must name the locally built broker image");
    }
    KafkaCluster cluster = KafkaCluster.start(image, CLUSTER_SIZE);
    return new TestKafka(cluster, cluster.bootstrapServers(), KafkaCluster.REPLICATION_FACTOR, cluster.toString());
  }

  /** Whether {@code mode} asks for a container; blank means embedded. */
  private static boolean isContainer(String mode) {
    return switch (Objects.requireNonNull(mode, "mode").trim().toLowerCase(Locale.ROOT)) {
      case "", EMBEDDED -> false;
      case CONTAINER -> true;
      default -> throw new IllegalArgumentException(
          BROKER_PROPERTY + " must be " + EMBEDDED + " or " + CONTAINER + ", not '" + mode + "'");
    };
  }

  /** Asks Testcontainers; after a failure it answers at once for the rest of the JVM's life. */
  private static boolean dockerAvailable() {
    return DockerClientFactory.instance().isDockerAvailable();
  }

  /**
   * Disables a test class in container mode where no Docker engine is available, or where the broker image has not
   * been built, before any of it runs, so that each of its tests is reported as skipped. With
   * {@value #REQUIRE_PROPERTY}{@code =true} (CI, after building the images) a missing image is not a reason to skip:
   * the class runs and fails with the command that builds it. In embedded mode it never asks for Docker.
   */
  public static final class DockerCondition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      String image = System.getProperty(IMAGE_PROPERTY, "");
      return evaluate(System.getProperty(BROKER_PROPERTY, EMBEDDED), TestKafka::dockerAvailable,
          () -> KafkaCluster.imagePresent(image), Boolean.getBoolean(REQUIRE_PROPERTY));
    }

    static ConditionEvaluationResult evaluate(
        String mode, BooleanSupplier dockerAvailable, BooleanSupplier imagePresent, boolean required) {
      if (!isContainer(mode)) {
        return ConditionEvaluationResult.enabled("embedded Kafka");
      }
      if (!dockerAvailable.getAsBoolean()) {
        return ConditionEvaluationResult.disabled(NO_DOCKER);
      }
      return required || imagePresent.getAsBoolean()
          ? ConditionEvaluationResult.enabled("Kafka cluster in containers")
          : ConditionEvaluationResult.disabled("the broker image " + System.getProperty(IMAGE_PROPERTY, "")
              + " is not built (deploy/images/build.sh); -D" + REQUIRE_PROPERTY + "=true fails instead of skipping");
    }
  }

  /** The {@code bootstrap.servers} value for clients. */
  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** Whether this is the container cluster rather than the embedded broker. */
  public boolean isContainer() {
    return broker instanceof KafkaCluster;
  }

  /** The container cluster, for tests that stop and start its nodes; empty for the embedded broker. */
  public Optional<KafkaCluster> cluster() {
    return broker instanceof KafkaCluster c ? Optional.of(c) : Optional.empty();
  }

  /** The replication factor topics of this Kafka get: 1 on the embedded broker, 3 on the cluster. */
  public short replicationFactor() {
    return replicationFactor;
  }

  /**
   * Creates topics and waits until they exist. Topics that exist already are left as they are, like
   * {@link EmbeddedKafka#createTopics(Collection)}.
   *
   * @throws IllegalStateException if a topic cannot be created, or creation takes longer than 30 s
   */
  public void createTopics(Collection<NewTopic> topics) {
    if (closed.get()) {
      throw new IllegalStateException(description + " is closed");
    }
    try (Admin admin = Admin.create(Map.of(
        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) ADMIN_TIMEOUT.toMillis()))) {
      TopicAdmin.createIfMissing(admin, topics, ADMIN_TIMEOUT);
    }
  }

  /** Creates topics; see {@link #createTopics(Collection)}. */
  public void createTopics(NewTopic... topics) {
    createTopics(List.of(topics));
  }

  /** Stops the broker (removes the container). Calling it again does nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      try {
        broker.close();
      } catch (Exception e) {
        log.warn("Stopping {} failed", description, e);
      }
    }
  }

  @Override
  public String toString() {
    return description;
  }
}
