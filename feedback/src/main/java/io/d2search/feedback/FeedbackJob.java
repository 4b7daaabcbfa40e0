package io.d2search.feedback;

import io.d2search.schemas.TopicAdmin;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link FeedbackTopology} as a running Kafka Streams application, {@code <prefix>-feedback},
 * {@code exactly_once_v2}: sessions, examples and dead letters commit together, so a crash replays without
 * duplicate or missing examples. A stream thread that dies is logged, counted
 * ({@code d2search.feedback.thread.replacements}) and replaced; bad input never gets that far (the topology
 * dead-letters it).
 *
 * <p>The constructor builds; {@link #start()} starts. Thread-safe.
 */
public final class FeedbackJob implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FeedbackJob.class);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

  private final KafkaStreams streams;

  /**
   * @param bootstrapServers the cluster of {@code impressions} and {@code clicks}
   * @param stateDir Kafka Streams state directory (the join's stores)
   * @param applicationId {@code <prefix>-feedback}
   * @param config the join's rules
   * @param overrides extra Kafka client properties (security, timeouts), applied last
   * @param registry where the join's counters go
   */
  public FeedbackJob(String bootstrapServers, Path stateDir, String applicationId, FeedbackConfig config,
      Map<String, String> overrides, MeterRegistry registry) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, Objects.requireNonNull(applicationId, "applicationId"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Objects.requireNonNull(bootstrapServers, "bootstrapServers"));
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
    p.putAll(overrides);
    this.streams = new KafkaStreams(FeedbackTopology.build(config, registry), p);
    Counter replaced = Counter.builder("d2search.feedback.thread.replacements")
        .description("Feedback stream threads that died and were replaced").register(registry);
    streams.setUncaughtExceptionHandler(e -> {
      log.error("A feedback stream thread died; replacing it", e);
      replaced.increment();
      return StreamThreadExceptionResponse.REPLACE_THREAD;
    });
  }

  /**
   * Creates the topics the join writes when they are missing: {@code training-pairs} and {@code feedback.dlq}, with
   * the partitions of {@code impressions} (the join's co-partitioning).
   */
  public static void createTopicsIfMissing(Map<String, Object> adminConfig, int partitions, short replication,
      Duration timeout) {
    Map<String, Object> admin = new java.util.HashMap<>(adminConfig);
    admin.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    try (Admin client = Admin.create(admin)) {
      TopicAdmin.createIfMissing(client, List.of(new NewTopic(Topics.TRAINING_PAIRS, partitions, replication),
          new NewTopic(Topics.FEEDBACK_DLQ, partitions, replication)), timeout);
    }
  }

  /** Starts the application. */
  public void start() {
    streams.start();
    log.info("Feedback join started: impressions x clicks -> {}", Topics.TRAINING_PAIRS);
  }

  /** The application's state (RUNNING once its tasks are assigned). */
  public KafkaStreams.State state() {
    return streams.state();
  }

  @Override
  public void close() {
    streams.close(CLOSE_TIMEOUT);
  }
}
