package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.bundle.BundleStore;
import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.feedback.FeedbackConfig;
import io.d2search.feedback.FeedbackJob;
import io.d2search.index.IndexConfig;
import io.d2search.ingest.ValidationLimits;
import io.d2search.schemas.AttributeSchema;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.VectorEncoding;
import io.d2search.indexer.IndexerConfig;
import io.d2search.ingest.ChunkerConfig;
import io.d2search.indexer.Indexer;
import io.d2search.indexer.ReleaseEmbedders;
import io.d2search.indexer.IndexerHealth;
import io.d2search.serve.ComponentHealth;
import io.d2search.serve.HealthCheck;
import io.d2search.serve.ApiTokens;
import io.d2search.serve.IssuedQueries;
import io.d2search.serve.QueryService;
import io.d2search.serve.QueryServiceConfig;
import io.d2search.serve.SearchConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.Files;
import java.io.UncheckedIOException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Turns settings into component configs: the one place that knows both. */
public final class Components {
  private Components() {}

  public static EmbedderConfig embedder(Settings s) {
    return new EmbedderConfig(s.string("model.version"), BackboneSource.MINILM_L6_V2, s.integer("model.max-tokens"),
        s.integer("embed.max-batch"), s.integer("model.threads"), provider(s));
  }

  /** Setting model.provider: where every ONNX model of this process runs. */
  public static ExecutionProvider provider(Settings s) {
    return ExecutionProvider.valueOf(s.string("model.provider").toUpperCase(Locale.ROOT));
  }

  /**
   * The embedder every service uses: the model bundle of setting model.version (the backbone with its pooling
   * head), with batch size, threads and provider from the settings. All services of one deployment must name the
   * same version: a query is embedded with the version of the index it searches.
   */
  public static Embedder serviceEmbedder(Settings s) {
    return serviceEmbedder(s, serviceBundle(s));
  }

  /** {@link #serviceEmbedder(Settings)} of a bundle already loaded, so a caller that also needs its IEM loads it once. */
  public static Embedder serviceEmbedder(Settings s, ModelBundle bundle) {
    return bundle.embedder(embedder(s));
  }

  /**
   * The query service's embedder of a bundle: {@link #serviceEmbedder}'s, on the int8 graph of the bundle's backbone
   * with setting search.query-encoder=int8 (where the backbone has one; {@link ModelBundle#embedder}).
   */
  public static Embedder queryEmbedder(Settings s, ModelBundle bundle) {
    return bundle.embedder(queryEmbedderConfig(s));
  }

  /** {@link #embedder}'s configuration with the query encoder of setting search.query-encoder. */
  public static EmbedderConfig queryEmbedderConfig(Settings s) {
    String encoder = s.string("search.query-encoder").strip().toLowerCase(Locale.ROOT);
    return switch (encoder) {
      case "fp32" -> embedder(s);
      case "int8" -> embedder(s).withBackbone(BackboneSource.MINILM_L6_V2_INT8);
      default -> throw new IllegalArgumentException("Setting search.query-encoder must be fp32 or int8, got '"
          + encoder + "'");
    };
  }

  /** The bundle of setting model.version: what every service runs. */
  public static ModelBundle serviceBundle(Settings s) {
    return bundle(s, s.string("model.version"));
  }

  /**
   * Starts the query service on a bundle's embedder, re-ranking with the bundle's IEM head when it has one (version
   * 0 has none: HNSW order), and, with model.releases.enabled, following model-releases: each HEADS release is
   * opened from the {@link #bundleStore} and hot-swapped in as the re-ranker. Closing the service stops that too.
   */
  public static QueryService startQueryService(Settings s, ModelBundle bundle, Embedder embedder,
      PrometheusMeterRegistry registry) {
    return QueryService.start(queryService(s), bundle, embedder, bundleStore(s), registry, List.of());
  }

  /** A query service whose {@code /health} also requires the indexer running beside it (the demo). */
  public static QueryService startQueryService(Settings s, ModelBundle bundle, Embedder embedder,
      PrometheusMeterRegistry registry, Indexer indexer) {
    return QueryService.start(queryService(s), bundle, embedder, bundleStore(s), registry,
        List.of(indexerHealth(s, indexer)));
  }

  /**
   * How the indexer embeds FULL releases' passages (settings indexer.reembed.*, bundles from {@link #bundleStore});
   * null when setting model.releases.enabled is false.
   */
  public static ReleaseEmbedders.Config releaseEmbedders(Settings s) {
    if (!s.bool("model.releases.enabled")) {
      return null;
    }
    return new ReleaseEmbedders.Config(bundleStore(s), embedder(s), s.doubleValue("indexer.reembed.max-rate"),
        java.time.Duration.ofMillis(s.longValue("indexer.reembed.retire-after-ms")));
  }

  /** The indexer of the settings, following model releases when they are enabled. */
  public static Indexer newIndexer(Settings s, Embedder embedder, io.micrometer.core.instrument.MeterRegistry registry) {
    return new Indexer(indexer(s), embedder, registry, releaseEmbedders(s));
  }

  /** Where released bundles are opened: the directory {@link #bundlesDir}, shared by whoever publishes releases. */
  public static BundleStore bundleStore(Settings s) {
    return new DirectoryBundleStore(bundlesDir(s));
  }

  /** The indexer's health as the query service's {@code /health} reports a component. */
  public static HealthCheck indexerHealth(Settings s, Indexer indexer) {
    long maxLag = s.longValue("indexer.health.max-lag");
    return () -> {
      IndexerHealth h = indexer.health(maxLag);
      return new ComponentHealth("indexer", h.ready(), h.status(), h.detail(), h.lag());
    };
  }

  public static ChunkerConfig chunker(Settings s) {
    return new ChunkerConfig(s.integer("chunk.max-tokens"), s.integer("chunk.overlap-tokens"));
  }

  /** Where model bundles live: setting model.bundles-dir, or {@code <data.dir>/bundles} when it is empty. */
  public static Path bundlesDir(Settings s) {
    String dir = s.string("model.bundles-dir");
    return dir.isBlank() ? dataDir(s).resolve("bundles") : Path.of(dir);
  }

  /**
   * Loads (and verifies) the bundle of a model version; version 0, the bundled backbone with PMA in its
   * mean-pooling initialisation, is created first when missing. A name with a path separator is a bundle
   * directory.
   */
  public static ModelBundle bundle(Settings s, String version) {
    if (ModelBundle.VERSION_ZERO.equals(version)) {
      return ModelBundle.versionZero(bundlesDir(s), BackboneSource.MINILM_L6_V2, s.integer("model.max-tokens"));
    }
    return ModelBundle.load(version.contains("/") ? Path.of(version) : bundlesDir(s).resolve(version));
  }

  /**
   * The data directory ({@code data.dir}), created owner-only ({@code rwx------}) when missing: it holds the
   * broker's log, the state stores and the index, none of which other users of the machine should read.
   */
  public static Path dataDir(Settings s) {
    Path dir = s.path("data.dir");
    if (!Files.isDirectory(dir)) {
      try {
        Files.createDirectories(dir);
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
          Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot create the data directory " + dir, e);
      }
    }
    return dir;
  }

  /** The declared attribute types ({@code index.attributes}): the indexer validates by them, the index indexes. */
  public static AttributeSchema attributes(Settings s) {
    return AttributeSchema.parse(s.string("index.attributes"));
  }

  /** The feedback join ({@code <prefix>-feedback}): impressions x clicks -> training-pairs, state under data.dir. */
  public static FeedbackJob feedback(Settings s, MeterRegistry registry) {
    return new FeedbackJob(s.string("kafka.bootstrap.servers"), dataDir(s).resolve("streams"),
        s.string("kafka.application-id-prefix") + "-feedback", FeedbackConfig.of(s), s.kafkaClient(), registry);
  }

  public static IndexerConfig indexer(Settings s) {
    return IndexerConfig.defaults(s.string("kafka.bootstrap.servers"), dataDir(s).resolve("streams"))
        .withApplicationIdPrefix(s.string("kafka.application-id-prefix"))
        .withChunker(chunker(s))
        .withEmbedBatching(s.integer("embed.max-batch"), s.longValue("embed.max-wait-ms"))
        .withDeleteRetentionMs(s.longValue("indexer.delete-retention-ms"))
        .withCommitIntervalMs(s.longValue("indexer.commit-interval-ms"))
        .withValidation(ValidationLimits.defaults().withAttributes(attributes(s)))
        .withStreamsOverrides(indexerStreams(s));
  }

  /**
   * The indexer's Kafka Streams properties beyond its own: the client settings, and its static membership id
   * ({@code indexer.instance-id}) on the main consumers only (Streams suffixes it per stream thread; the restore
   * consumer has no group).
   */
  static Map<String, String> indexerStreams(Settings s) {
    Map<String, String> p = new java.util.TreeMap<>(s.kafkaClient());
    String instance = s.string("indexer.instance-id");
    if (!instance.isBlank()) {
      p.put(org.apache.kafka.streams.StreamsConfig.mainConsumerPrefix(
          org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), instance);
    }
    return Map.copyOf(p);
  }

  public static QueryServiceConfig queryService(Settings s) {
    return QueryServiceConfig.defaults(s.string("kafka.bootstrap.servers"), dataDir(s).resolve("index"))
        .withHttp(s.string("http.host"), s.integer("http.port"))
        .withCommitPolicy(s.longValue("index.commit-interval-ms"), MaterializerConfig.DEFAULT_COMMIT_MAX_RECORDS)
        .withIndex(IndexConfig.defaults().withHnsw(s.integer("index.hnsw.m"), s.integer("index.hnsw.beam-width"))
            .withEfSearch(s.integer("index.hnsw.ef-search")).withAttributes(attributes(s))
            .withVectors(VectorEncoding.parse(s.string("index.vectors.encoding")),
                s.doubleValue("index.vectors.oversample")))
        .withImpressions(s.bool("search.impressions"))
        .withSearch(SearchConfig.of(s))
        .withClicks(new IssuedQueries.Policy(Duration.ofMillis(s.longValue("search.click-window-ms")),
            s.integer("search.click-memory"), s.string("search.click-secret"), s.integer("search.clicks-per-minute")))
        .withTokens(ApiTokens.parse(s.string("http.tokens")))
        .withReleases(s.bool("model.releases.enabled"))
        .withKafkaProperties(s.kafkaClient());
  }
}
