package io.d2search.serve;

import io.d2search.embed.Embedder;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.PassageIndex;
import io.d2search.rank.IemHead;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * when it has one) with an impressions producer, and the {@link HttpApi}. {@link #start} wires and starts them; {@link #close()} closes them in reverse order.
 *
 * <p>Start returns once HTTP listens, usually before the index has caught up: {@code GET /health} answers 503
 * until it has. Owns what it creates; the embedder and the registry belong to the caller.
 */
public final class QueryService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QueryService.class);

  private static final Duration PRODUCER_CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final PassageIndex index;
  private final EmbeddingsMaterializer materializer;
  private final SearchService search;
  private final HttpApi http;
  private final Deque<AutoCloseable> resources;

  private QueryService(PassageIndex index, EmbeddingsMaterializer materializer, SearchService search, HttpApi http,
      Deque<AutoCloseable> resources) {
    this.index = index;
    this.materializer = materializer;
    this.search = search;
    this.http = http;
    this.resources = resources;
  }

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
      SearchService search = new SearchService(index, embedder, iem, config.search(), registry, events,
          new IssuedQueries(config.clicks()));
      HttpApi http = HttpApi.start(config.httpHost(), config.httpPort(), search, materializer, registry, checks,
          config.tokens());
      started.push(http);
      log.info("Query service for model {} on port {}, index {} ({} passages, offsets {}), {} retrieval, {}", version,
          http.port(), index.dir(), index.size(), index.committedOffsets(), config.search().mode().label(),
          iem == null ? "no re-ranking (no IEM head)"
              : "re-ranking the top " + config.search().rerankDepth() + " with " + iem);
      return new QueryService(index, materializer, search, http, started);
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

  /** The index being served. */
  public PassageIndex index() {
    return index;
  }

  /** The materialiser feeding the index (readiness, lag, applied records). */
  public EmbeddingsMaterializer materializer() {
    return materializer;
  }

  /** Search and click recording, without HTTP. */
  public SearchService search() {
    return search;
  }

  /**
   * Stops HTTP, stops materialising (committing the index with its offsets), flushes and closes the producer,
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
