package io.d2search.broker;

import io.d2search.schemas.TopicAdmin;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
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
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The Kafka broker of an integration test: the {@linkplain EmbeddedKafka embedded broker} by default, or a stock
 * Kafka in a Testcontainers {@link KafkaContainer} when the system property {@value #BROKER_PROPERTY} is
 * {@value #CONTAINER}, so that the same test classes run against both.
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
 * <p>Shipped to the other modules in the broker's {@code test-jar}; they need {@code testcontainers-kafka} on
 * their test class path as well.
 */
public final class TestKafka implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TestKafka.class);

  /** The system property that picks the broker: {@value #EMBEDDED} (the default) or {@value #CONTAINER}. */
  public static final String BROKER_PROPERTY = "d2search.test.broker";
  /** The in-JVM KRaft broker, {@link EmbeddedKafka}. */
  public static final String EMBEDDED = "embedded";
  /** A Testcontainers {@link KafkaContainer}; needs a Docker engine. */
  public static final String CONTAINER = "container";
  /** The system property that overrides the container image, {@value #DEFAULT_IMAGE} by default. */
  public static final String IMAGE_PROPERTY = "d2search.test.kafkaImage";
  public static final String DEFAULT_IMAGE = "apache/kafka:4.1.0";

  private static final Duration CONTAINER_STARTUP_TIMEOUT = Duration.ofMinutes(3);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
  private static final String NO_DOCKER =
      "-D" + BROKER_PROPERTY + "=" + CONTAINER + " needs a Docker engine and none is available";

  private final AutoCloseable broker;
  private final String bootstrapServers;
  private final String description;
  private final AtomicBoolean closed = new AtomicBoolean();

  private TestKafka(AutoCloseable broker, String bootstrapServers, String description) {
    this.broker = broker;
    this.bootstrapServers = bootstrapServers;
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
      return new TestKafka(kafka, kafka.bootstrapServers(), "embedded Kafka on " + kafka.bootstrapServers());
    }
    Assumptions.assumeTrue(dockerAvailable(), NO_DOCKER);
    return startContainer(System.getProperty(IMAGE_PROPERTY, DEFAULT_IMAGE));
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
   * Disables a test class in container mode where no Docker engine is available, before any of it runs, so that
   * each of its tests is reported as skipped. In embedded mode it never asks for Docker.
   */
  public static final class DockerCondition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      return evaluate(System.getProperty(BROKER_PROPERTY, EMBEDDED), TestKafka::dockerAvailable);
    }

    static ConditionEvaluationResult evaluate(String mode, BooleanSupplier dockerAvailable) {
      if (!isContainer(mode)) {
        return ConditionEvaluationResult.enabled("embedded Kafka");
      }
      return dockerAvailable.getAsBoolean()
          ? ConditionEvaluationResult.enabled("Kafka container")
          : ConditionEvaluationResult.disabled(NO_DOCKER);
    }
  }

  private static TestKafka startContainer(String image) {
    long startNanos = System.nanoTime();
    KafkaContainer container = new KafkaContainer(DockerImageName.parse(image))
        // What the embedded broker does differently from the image's defaults (BrokerProperties), so that the
        // tests see the same broker behaviour; the container already has replication factor 1 everywhere.
        .withEnv("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .withEnv("KAFKA_LOG_CLEANER_BACKOFF_MS", "1000")
        .withStartupTimeout(CONTAINER_STARTUP_TIMEOUT);
    try {
      container.start();
    } catch (RuntimeException e) {
      container.close();
      throw new IllegalStateException("Kafka container " + image + " did not start: " + e.getMessage(), e);
    }
    String bootstrap = container.getBootstrapServers();
    log.info("Kafka container {} on {} started in {} ms", image, bootstrap,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    return new TestKafka(container, bootstrap, "Kafka container " + image + " on " + bootstrap);
  }

  /** The {@code bootstrap.servers} value for clients. */
  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** Whether this is a container rather than the embedded broker. */
  public boolean isContainer() {
    return broker instanceof KafkaContainer;
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
