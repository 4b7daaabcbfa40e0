package io.d2search.index;

import io.d2search.config.Settings;
import io.d2search.schemas.Topics;
import java.util.Map;
import java.util.Objects;

/**
 * How an {@link EmbeddingsMaterializer} reads the {@code embeddings} topic.
 *
 * @param bootstrapServers Kafka {@code bootstrap.servers}
 * @param topic the topic to materialise; {@link Topics#EMBEDDINGS} in production
 * @param commitIntervalMs longest time between two Lucene commits while records arrive, in ms; at least 1.
 *     Commits are what survive a crash: a crash replays at most this much (harmless, upserts are idempotent).
 * @param commitMaxRecords records applied after which the index commits even before the interval has
 *     passed; at least 1
 * @param kafkaProperties further consumer properties (security, timeouts); they override this class's
 *     settings except {@code isolation.level} and {@code enable.auto.commit}, which correctness needs
 */
public record MaterializerConfig(
    String bootstrapServers, String topic, long commitIntervalMs, int commitMaxRecords,
    Map<String, String> kafkaProperties) {

  public static final long DEFAULT_COMMIT_INTERVAL_MS = Settings.defaults().longValue("index.commit-interval-ms");
  public static final int DEFAULT_COMMIT_MAX_RECORDS = 10_000;

  public MaterializerConfig {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    Objects.requireNonNull(topic, "topic");
    if (bootstrapServers.isBlank()) {
      throw new IllegalArgumentException("bootstrapServers must not be blank");
    }
    if (commitIntervalMs < 1) {
      throw new IllegalArgumentException("commitIntervalMs must be >= 1: " + commitIntervalMs);
    }
    if (commitMaxRecords < 1) {
      throw new IllegalArgumentException("commitMaxRecords must be >= 1: " + commitMaxRecords);
    }
    kafkaProperties = Map.copyOf(kafkaProperties);
  }

  /** The {@code embeddings} topic, a commit every 5 s or 10,000 records, no extra consumer properties. */
  public static MaterializerConfig defaults(String bootstrapServers) {
    return new MaterializerConfig(bootstrapServers, Topics.EMBEDDINGS, DEFAULT_COMMIT_INTERVAL_MS,
        DEFAULT_COMMIT_MAX_RECORDS, Map.of());
  }

  /** This config with another topic. */
  public MaterializerConfig withTopic(String name) {
    return new MaterializerConfig(bootstrapServers, name, commitIntervalMs, commitMaxRecords, kafkaProperties);
  }

  /** This config with another commit interval. */
  public MaterializerConfig withCommitIntervalMs(long ms) {
    return new MaterializerConfig(bootstrapServers, topic, ms, commitMaxRecords, kafkaProperties);
  }

  /** This config with another commit record count. */
  public MaterializerConfig withCommitMaxRecords(int records) {
    return new MaterializerConfig(bootstrapServers, topic, commitIntervalMs, records, kafkaProperties);
  }

  /** This config with other extra consumer properties. */
  public MaterializerConfig withKafkaProperties(Map<String, String> properties) {
    return new MaterializerConfig(bootstrapServers, topic, commitIntervalMs, commitMaxRecords, properties);
  }
}
