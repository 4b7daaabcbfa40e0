package io.d2search.indexer;

import io.d2search.config.Settings;
import io.d2search.ingest.ChunkerConfig;
import io.d2search.ingest.ValidationLimits;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * How to run the {@link Indexer}. Build one with {@link #defaults(String, Path)} and the {@code with...} methods.
 *
 * @param bootstrapServers Kafka {@code bootstrap.servers}, non-blank
 * @param stateDir Kafka Streams {@code state.dir}: both applications keep their RocksDB stores under it
 * @param applicationIdPrefix the applications are {@code <prefix>-chunker} and {@code <prefix>-embedder};
 *     default the {@code kafka.application-id-prefix} setting
 * @param chunker chunk size and overlap; default {@link ChunkerConfig#defaults()}
 * @param validation document limits; default {@link ValidationLimits#defaults()}
 * @param embedMaxBatch passages per embedder call that trigger a flush, {@code >= 1}; default
 *     the {@code embed.max-batch} setting
 * @param embedMaxWaitMs period of the wall-clock flush, {@code >= 1}; default the {@code embed.max-wait-ms} setting
 * @param streamThreads stream threads of each application, {@code >= 1}; default {@value #DEFAULT_STREAM_THREADS}
 * @param commitIntervalMs Kafka Streams {@code commit.interval.ms}, {@code >= 1}; default
 *     {@value #DEFAULT_COMMIT_INTERVAL_MS} (as the {@code indexer.commit-interval-ms} setting; Kafka's exactly-once
 *     default is 100). It bounds end-to-end latency, since a read_committed consumer sees output only at commit
 * @param streamsOverrides further Kafka Streams/client properties applied last (security, client tuning);
 *     copied; default empty
 * @param deleteRetentionMs how long, in event time, a deleted document's version is remembered so that older
 *     events arriving later stay ignored, {@code >= 1}; default the {@code indexer.delete-retention-ms} setting.
 *     An event older than the delete that arrives later than this is applied.
 */
public record IndexerConfig(
    String bootstrapServers, Path stateDir, String applicationIdPrefix, ChunkerConfig chunker,
    ValidationLimits validation, int embedMaxBatch, long embedMaxWaitMs, int streamThreads, long commitIntervalMs,
    Map<String, String> streamsOverrides, long deleteRetentionMs) {

  public static final String DEFAULT_APPLICATION_ID_PREFIX = Settings.defaults().string("kafka.application-id-prefix");
  public static final int DEFAULT_EMBED_MAX_BATCH = Settings.defaults().integer("embed.max-batch");
  public static final long DEFAULT_EMBED_MAX_WAIT_MS = Settings.defaults().longValue("embed.max-wait-ms");
  public static final int DEFAULT_STREAM_THREADS = 1;
  public static final long DEFAULT_COMMIT_INTERVAL_MS = 20;
  public static final long DEFAULT_DELETE_RETENTION_MS = Settings.defaults().longValue("indexer.delete-retention-ms");

  /** @throws IllegalArgumentException if a value is out of range; NullPointerException if one is null */
  public IndexerConfig {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(applicationIdPrefix, "applicationIdPrefix");
    Objects.requireNonNull(chunker, "chunker");
    Objects.requireNonNull(validation, "validation");
    streamsOverrides = Map.copyOf(Objects.requireNonNull(streamsOverrides, "streamsOverrides"));
    if (bootstrapServers.isBlank()) {
      throw new IllegalArgumentException("bootstrapServers must not be blank");
    }
    if (!applicationIdPrefix.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException(
          "applicationIdPrefix must be non-empty letters, digits, '.', '_' or '-': " + applicationIdPrefix);
    }
    requireAtLeastOne("embedMaxBatch", embedMaxBatch);
    requireAtLeastOne("embedMaxWaitMs", embedMaxWaitMs);
    requireAtLeastOne("streamThreads", streamThreads);
    requireAtLeastOne("commitIntervalMs", commitIntervalMs);
    requireAtLeastOne("deleteRetentionMs", deleteRetentionMs);
  }

  /** The defaults for a cluster and a state directory. */
  public static IndexerConfig defaults(String bootstrapServers, Path stateDir) {
    return new IndexerConfig(bootstrapServers, stateDir, DEFAULT_APPLICATION_ID_PREFIX, ChunkerConfig.defaults(),
        ValidationLimits.defaults(), DEFAULT_EMBED_MAX_BATCH, DEFAULT_EMBED_MAX_WAIT_MS, DEFAULT_STREAM_THREADS,
        DEFAULT_COMMIT_INTERVAL_MS, Map.of(), DEFAULT_DELETE_RETENTION_MS);
  }

  /** Application id of the chunk topology. */
  public String chunkerApplicationId() {
    return applicationIdPrefix + "-chunker";
  }

  /** Application id of the embed topology. */
  public String embedderApplicationId() {
    return applicationIdPrefix + "-embedder";
  }

  public IndexerConfig withApplicationIdPrefix(String prefix) {
    return new IndexerConfig(bootstrapServers, stateDir, prefix, chunker, validation, embedMaxBatch, embedMaxWaitMs,
        streamThreads, commitIntervalMs, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withChunker(ChunkerConfig value) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, value, validation, embedMaxBatch,
        embedMaxWaitMs, streamThreads, commitIntervalMs, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withValidation(ValidationLimits value) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, value, embedMaxBatch,
        embedMaxWaitMs, streamThreads, commitIntervalMs, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withEmbedBatching(int maxBatch, long maxWaitMs) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, validation, maxBatch,
        maxWaitMs, streamThreads, commitIntervalMs, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withStreamThreads(int threads) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, validation, embedMaxBatch,
        embedMaxWaitMs, threads, commitIntervalMs, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withCommitIntervalMs(long ms) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, validation, embedMaxBatch,
        embedMaxWaitMs, streamThreads, ms, streamsOverrides, deleteRetentionMs);
  }

  public IndexerConfig withStreamsOverrides(Map<String, String> overrides) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, validation, embedMaxBatch,
        embedMaxWaitMs, streamThreads, commitIntervalMs, overrides, deleteRetentionMs);
  }

  public IndexerConfig withDeleteRetentionMs(long ms) {
    return new IndexerConfig(bootstrapServers, stateDir, applicationIdPrefix, chunker, validation, embedMaxBatch,
        embedMaxWaitMs, streamThreads, commitIntervalMs, streamsOverrides, ms);
  }

  private static void requireAtLeastOne(String name, long value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be >= 1: " + value);
    }
  }
}
