package io.d2search.serve;

import io.d2search.bundle.BundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.Embedder;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.PassageIndex;
import io.d2search.rank.IemHead;
import io.d2search.schemas.Topics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.Optional;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The query-service: a {@link PassageIndex} for the embedder's model version, an {@link EmbeddingsMaterializer}
 * that keeps it equal to the {@code embeddings} topic, a {@link SearchService} (re-ranking with the model's IEM head
 * when it has one) with an impressions producer, optionally a {@link ReleaseWatcher} that hot-swaps the re-ranker to
 * each HEADS model release, and the {@link HttpApi}. {@link #start} wires and starts them; {@link #close()} closes
 * them in reverse order.
 *
 * <p>Start returns once HTTP listens, usually before the index has caught up: {@code GET /health} answers 503
 * until it has. Owns what it creates; the embedder and the registry belong to the caller.
 */
public final class QueryService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QueryService.class);

  private static final Duration PRODUCER_CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final EmbeddingsMaterializer materializer;
  private final SearchService search;
  private final HttpApi http;
  private final ReleaseWatcher releases; // null: not following model-releases
  private final Deque<AutoCloseable> resources;

  private QueryService(EmbeddingsMaterializer materializer, SearchService search, HttpApi http,
      ReleaseWatcher releases, Deque<AutoCloseable> resources) {
    this.materializer = materializer;
    this.search = search;
    this.http = http;
    this.releases = releases;
    this.resources = resources;
  }

  /** The model a service starts with and where it opens the bundles of later releases. */
  private record Releases(ModelBundle bundle, BundleStore store) {}

  /**
   * Starts a query service that ranks by the HNSW score alone.
   *
   * @see #start(QueryServiceConfig, Embedder, IemHead, PrometheusMeterRegistry)
   */
  public static QueryService start(QueryServiceConfig config, Embedder embedder, PrometheusMeterRegistry registry) {
    return start(config, embedder, null, registry);
  }

  /**
   * Opens (or creates) the index of {@code embedder}'s model version under {@code config.indexDir()}, starts
   * materialising, and starts HTTP.
   *
   * @param iem the IEM head of the model bundle that {@code embedder} runs, re-ranking the HNSW top
   *     {@link SearchConfig#rerankDepth()}; null to rank by the first stage alone (a bundle without one)
   * @throws IllegalArgumentException if the config is unusable, e.g. the model version cannot name a directory, or
   *     the IEM head does not fit the embedder
   * @throws RuntimeException whatever a component threw; what had started is closed again
   */
  public static QueryService start(QueryServiceConfig config, Embedder embedder, IemHead iem,
      PrometheusMeterRegistry registry) {
    return start(config, embedder, iem, registry, List.of());
  }

  /**
   * {@link #start(QueryServiceConfig, Embedder, IemHead, PrometheusMeterRegistry)}, with more parts whose health
   * {@code GET /health} reports and requires (the all-in-one demo's indexer).
   */
  public static QueryService start(QueryServiceConfig config, Embedder embedder, IemHead iem,
      PrometheusMeterRegistry registry, List<HealthCheck> checks) {
    return start(config, embedder, iem, registry, checks, null);
  }

  /**
   * Starts a query service on a model bundle: {@code embedder} runs it, its IEM head re-ranks, and, when
   * {@link QueryServiceConfig#releasesEnabled()}, a {@link ReleaseWatcher} follows {@code model-releases} and
   * hot-swaps the re-ranker to each HEADS release it can adopt ({@link ReleaseAdopter}), opened from {@code store}.
   * {@code GET /health} then also waits for the watcher to catch up with the topic, so a replica is ready only with
   * the current release; {@code GET /models} shows what it adopted and refused.
   *
   * @param bundle the bundle {@code embedder} runs (its version is the index's)
   * @param store where the bundles that releases name are opened
   * @param checks more parts whose health {@code GET /health} reports and requires
   * @throws IllegalArgumentException if {@code embedder} does not run {@code bundle}'s version
   * @see #start(QueryServiceConfig, Embedder, IemHead, PrometheusMeterRegistry)
   */
  public static QueryService start(QueryServiceConfig config, ModelBundle bundle, Embedder embedder,
      BundleStore store, PrometheusMeterRegistry registry, List<HealthCheck> checks) {
    Objects.requireNonNull(bundle, "bundle");
    Objects.requireNonNull(store, "store");
    if (!bundle.version().equals(embedder.info().version())) {
      throw new IllegalArgumentException("the embedder runs model " + embedder.info().version() + ", not bundle "
          + bundle.version());
    }
    return start(config, embedder, bundle.iem().orElse(null), registry, checks,
        config.releasesEnabled() ? new Releases(bundle, store) : null);
  }

  private static QueryService start(QueryServiceConfig config, Embedder embedder, IemHead iem,
      PrometheusMeterRegistry registry, List<HealthCheck> checks, Releases releases) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(embedder, "embedder");
    Objects.requireNonNull(registry, "registry");
    String version = embedder.info().version();
    Deque<AutoCloseable> started = new ArrayDeque<>();
    try {
      PassageIndex index = PassageIndex.open(config.indexDirFor(version), version, config.index());
      started.push(index);
      Producer<String, byte[]> events = null;
      if (config.impressionsEnabled()) {
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerConfig(config));
        started.push(() -> producer.close(PRODUCER_CLOSE_TIMEOUT));
        events = producer;
      }
      EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, config.materializer(), registry);
      started.push(materializer);
      SearchService search = new SearchService(
          new VectorSpace(version, config.materializer().topic(), index, embedder, materializer), iem, config.search(),
          registry, events, new IssuedQueries(config.clicks()));
      started.push(search); // before the producer closes: its queued impressions go first
      ReleaseWatcher watcher = null;
      List<HealthCheck> health = new ArrayList<>(checks);
      Supplier<ReleaseStatus> releaseStatus = ReleaseStatus::off;
      if (releases != null) {
        ReleaseLedger ledger = new ReleaseLedger(registry);
        started.push(ledger);
        VectorSpaces spaces = new VectorSpaces(search,
            new VectorSpaces.Setup(config::indexDirFor, config.index(), config.materializer(), registry));
        started.push(spaces);
        ReleaseWatcher following = ReleaseWatcher.start(
            new ReleaseAdopter(search, releases.bundle(), releases.store(), ledger, spaces), ledger,
            config.bootstrapServers(), config.kafkaProperties());
        watcher = following;
        started.push(watcher);
        health.add(watcher.health());
        releaseStatus = () -> following.status().withBuilding(spaces.building());
      }
      HttpApi http = HttpApi.start(config.httpHost(), config.httpPort(), search, materializer, registry, health,
          config.tokens(), releaseStatus);
      started.push(http);
      log.info("Query service for model {} on port {}, index {} ({} passages, offsets {}), {} retrieval, {}", version,
          http.port(), index.dir(), index.size(), index.committedOffsets(), config.search().mode().label(),
          iem == null ? "no re-ranking (no IEM head)"
              : "re-ranking the top " + config.search().rerankDepth() + " with " + iem);
      if (releases != null) {
        log.info("Following {} for releases of model {} (bundles from {})", Topics.MODEL_RELEASES, version,
            releases.store());
      }
      return new QueryService(materializer, search, http, watcher, started);
    } catch (RuntimeException | Error e) {
      closeAll(started, e);
      throw e;
    }
  }

  private static Map<String, Object> producerConfig(QueryServiceConfig config) {
    Map<String, Object> props = new HashMap<>();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "d2search-query-service-events");
    props.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    // A search must not wait on an unreachable broker for metadata: give up quickly, count the lost event.
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 1_000);
    props.putAll(config.kafkaProperties());
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    return props;
  }

  /** The HTTP port (the chosen one when configured as 0). */
  public int port() {
    return http.port();
  }

  /** The index searched now (after a FULL release's switch, that release's). */
  public PassageIndex index() {
    return search.index();
  }

  /** The materialiser feeding the index searched now (readiness, lag, applied records). */
  public EmbeddingsMaterializer materializer() {
    return search.serving().space().materializerIfAny().orElse(materializer);
  }

  /** The watcher of {@code model-releases}; empty when the service does not follow releases. */
  public Optional<ReleaseWatcher> releases() {
    return Optional.ofNullable(releases);
  }

  /** Search and click recording, without HTTP. */
  public SearchService search() {
    return search;
  }

  /**
   * Stops HTTP, stops following releases, stops materialising (committing the index with its offsets), flushes and closes the producer,
   * closes the index. Calling it again does nothing.
   */
  @Override
  public void close() {
    synchronized (resources) {
      closeAll(resources, null);
    }
  }

  private static void closeAll(Deque<AutoCloseable> resources, Throwable cause) {
    while (!resources.isEmpty()) {
      try {
        resources.pop().close();
      } catch (Exception e) {
        if (cause != null) {
          cause.addSuppressed(e);
        } else {
          log.warn("Closing a query-service component failed", e);
        }
      }
    }
  }
}
