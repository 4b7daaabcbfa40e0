package io.d2search.serve;

import io.d2search.config.Settings;
import io.d2search.index.IndexConfig;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.PassageIndex;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Everything a {@link QueryService} needs besides the model and the metrics registry.
 *
 * @param bootstrapServers Kafka {@code bootstrap.servers}
 * @param indexDir parent directory of the indexes; the index of model version {@code v} lives in
 *     {@code indexDir/v} (one index per model version)
 * @param httpHost interface the HTTP API binds; {@code 0.0.0.0} for all
 * @param httpPort HTTP port in [0, 65535]; 0 picks a free one ({@link QueryService#port()} tells which)
 * @param commitIntervalMs longest time between two Lucene commits (with offsets) while records arrive, in ms
 * @param commitMaxRecords records after which the index commits early
 * @param index HNSW and search parameters
 * @param impressionsEnabled whether impressions and clicks are written to Kafka
 * @param kafkaProperties extra Kafka client properties (security, timeouts) for the consumer and the producer
 * @param search default retrieval mode, fusion, and the candidates the IEM re-scores ({@link SearchConfig})
 * @param clicks how {@code POST /clicks} checks clicks against the searches it served ({@link IssuedQueries})
 * @param tokens bearer tokens and their rights; {@link ApiTokens#none()} leaves the API open
 * @param releasesEnabled whether the service follows {@code model-releases} and hot-swaps its re-ranker to each
 *     HEADS release ({@code model.releases.enabled}); takes effect when it is started with its bundle and a
 *     {@link io.d2search.bundle.BundleStore}
 */
public record QueryServiceConfig(
    String bootstrapServers, Path indexDir, String httpHost, int httpPort, long commitIntervalMs,
    int commitMaxRecords, IndexConfig index, boolean impressionsEnabled, Map<String, String> kafkaProperties,
    SearchConfig search, IssuedQueries.Policy clicks, ApiTokens tokens, boolean releasesEnabled) {

  public static final String DEFAULT_HTTP_HOST = Settings.defaults().string("http.host");
  public static final int DEFAULT_HTTP_PORT = Settings.defaults().integer("http.port");
  public static final boolean DEFAULT_RELEASES_ENABLED = Settings.defaults().bool("model.releases.enabled");
  private static final Pattern SAFE_DIR_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  public QueryServiceConfig {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    Objects.requireNonNull(indexDir, "indexDir");
    Objects.requireNonNull(httpHost, "httpHost");
    Objects.requireNonNull(index, "index");
    if (httpPort < 0 || httpPort > 65_535) {
      throw new IllegalArgumentException("httpPort must be in [0, 65535]: " + httpPort);
    }
    kafkaProperties = Map.copyOf(kafkaProperties);
    Objects.requireNonNull(clicks, "clicks");
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(search, "search");
    // Validates bootstrap servers and the commit policy in one place.
    new MaterializerConfig(bootstrapServers, "embeddings", commitIntervalMs, commitMaxRecords, kafkaProperties);
  }

  /**
   * Port 8080 on all interfaces, a commit every 5 s or 10,000 records, default HNSW parameters (M 16, beam
   * width 100, 100 search candidates), impressions on, the {@code search.*} defaults ({@link SearchConfig#DEFAULTS}),
   * releases followed ({@code model.releases.enabled}).
   */
  public static QueryServiceConfig defaults(String bootstrapServers, Path indexDir) {
    return new QueryServiceConfig(bootstrapServers, indexDir, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT,
        MaterializerConfig.DEFAULT_COMMIT_INTERVAL_MS, MaterializerConfig.DEFAULT_COMMIT_MAX_RECORDS,
        IndexConfig.defaults(), true, Map.of(), SearchConfig.DEFAULTS,
        IssuedQueries.Policy.defaults(), ApiTokens.none(), DEFAULT_RELEASES_ENABLED);
  }

  /** The directory of the index of one model version. */
  public Path indexDirFor(String modelVersion) {
    if (!SAFE_DIR_NAME.matcher(modelVersion).matches()) {
      throw new IllegalArgumentException("model version cannot name a directory: " + modelVersion);
    }
    return indexDir.resolve(modelVersion);
  }

  /** The materialiser's settings. */
  public MaterializerConfig materializer() {
    return MaterializerConfig.defaults(bootstrapServers).withCommitIntervalMs(commitIntervalMs)
        .withCommitMaxRecords(commitMaxRecords).withKafkaProperties(kafkaProperties);
  }

  /** This config with another HTTP interface and port. */
  public QueryServiceConfig withHttp(String host, int port) {
    return new QueryServiceConfig(bootstrapServers, indexDir, host, port, commitIntervalMs, commitMaxRecords, index,
        impressionsEnabled, kafkaProperties, search, clicks, tokens, releasesEnabled);
  }

  /** This config with another commit interval (ms) and record count. */
  public QueryServiceConfig withCommitPolicy(long intervalMs, int maxRecords) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, intervalMs, maxRecords, index,
        impressionsEnabled, kafkaProperties, search, clicks, tokens, releasesEnabled);
  }

  /** This config with other HNSW and search parameters. */
  public QueryServiceConfig withIndex(IndexConfig config) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        config, impressionsEnabled, kafkaProperties, search, clicks, tokens, releasesEnabled);
  }

  /** This config with impressions and clicks on or off. */
  public QueryServiceConfig withImpressions(boolean enabled) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, enabled, kafkaProperties, search, clicks, tokens, releasesEnabled);
  }

  /** This config with other extra Kafka client properties. */
  public QueryServiceConfig withKafkaProperties(Map<String, String> properties) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, impressionsEnabled, properties, search, clicks, tokens, releasesEnabled);
  }

  /** This config with other search defaults. */
  public QueryServiceConfig withSearch(SearchConfig value) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, impressionsEnabled, kafkaProperties, value, clicks, tokens, releasesEnabled);
  }

  /** This config with following {@code model-releases} on or off. */
  public QueryServiceConfig withReleases(boolean enabled) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, impressionsEnabled, kafkaProperties, search, clicks, tokens, enabled);
  }

  /** This config with another re-ranking depth. */
  public QueryServiceConfig withRerankDepth(int depth) {
    return withSearch(search.withRerankDepth(depth));
  }

  /** This config with another click policy. */
  public QueryServiceConfig withClicks(IssuedQueries.Policy policy) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, impressionsEnabled, kafkaProperties, search, policy, tokens, releasesEnabled);
  }

  /** This config with other API tokens. */
  public QueryServiceConfig withTokens(ApiTokens value) {
    return new QueryServiceConfig(bootstrapServers, indexDir, httpHost, httpPort, commitIntervalMs, commitMaxRecords,
        index, impressionsEnabled, kafkaProperties, search, clicks, value, releasesEnabled);
  }
}
