package io.d2search.serve;

import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.events.Click;
import io.d2search.events.Impression;
import io.d2search.events.RankedPassage;
import io.d2search.index.Hit;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.PassageId;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Search over a {@link PassageIndex}: embeds the query with the same {@link Embedder} code path that embedded the
 * passages, takes the HNSW top k, and reports what it showed as an {@code Impression} so clicks can be joined to
 * it later.
 *
 * <p>Events are best effort: a failed send is logged and counted ({@code d2search.events.failed}, tag
 * {@code topic}), never an error of the search. With no producer, impressions and clicks are off.
 *
 * <p>Metrics: timer {@code d2search.search.latency} (with a percentile histogram, so Prometheus can compute
 * p50/p99 across replicas).
 *
 * <p>Thread-safe. Owns nothing: the caller closes the index, the embedder and the producer.
 */
public final class SearchService {
  private static final Logger log = LoggerFactory.getLogger(SearchService.class);

  /** Largest k a search accepts. */
  public static final int MAX_K = 1000;
  /** Longest query, in characters. */
  public static final int MAX_QUERY_CHARS = 2000;

  private final PassageIndex index;
  private final Embedder embedder;
  private final Producer<String, byte[]> events;
  private final Timer latency;
  private final MeterRegistry registry;
  private final AvroSerde<Impression> impressionSerde = Topics.impressionSerde();
  private final AvroSerde<Click> clickSerde = Topics.clickSerde();

  /**
   * @param index the index to search; its model version must be the embedder's
   * @param embedder embeds queries
   * @param registry where the metrics go
   * @param events producer for {@code impressions} and {@code clicks}; null turns both off
   * @throws ModelVersionMismatchException if the embedder's model version is not the index's
   */
  public SearchService(PassageIndex index, Embedder embedder, MeterRegistry registry, Producer<String, byte[]> events) {
    this.index = Objects.requireNonNull(index, "index");
    this.embedder = Objects.requireNonNull(embedder, "embedder");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.events = events;
    if (!embedder.info().version().equals(index.modelVersion())) {
      // A query must be embedded by the version of the index it searches (ARCHITECTURE.md §5).
      throw new ModelVersionMismatchException(index.modelVersion(), embedder.info().version());
    }
    this.latency = Timer.builder("d2search.search.latency")
        .description("Search requests: embed the query, HNSW top k, load stored fields")
        .publishPercentileHistogram()
        .register(registry);
  }

  /**
   * Searches and emits an impression.
   *
   * @param query the query text; not blank, at most {@link #MAX_QUERY_CHARS} characters
   * @param k how many results at most, {@code 1 <= k <=} {@link #MAX_K}
   * @throws IllegalArgumentException if the query or k is out of range
   */
  public SearchResult search(String query, int k) {
    Objects.requireNonNull(query, "query");
    if (query.isBlank()) {
      throw new IllegalArgumentException("query must not be blank");
    }
    if (query.length() > MAX_QUERY_CHARS) {
      throw new IllegalArgumentException("query must be at most " + MAX_QUERY_CHARS + " characters: " + query.length());
    }
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be in [1, " + MAX_K + "]: " + k);
    }
    long start = System.nanoTime();
    List<Hit> hits = index.search(embedder.embed(query), k);
    long tookNanos = System.nanoTime() - start;
    latency.record(tookNanos, TimeUnit.NANOSECONDS);
    SearchResult result = new SearchResult(UUID.randomUUID().toString(), index.modelVersion(),
        TimeUnit.NANOSECONDS.toMillis(tookNanos), hits);
    if (events != null) {
      send(Topics.IMPRESSIONS, result.queryId(), impressionSerde.encode(impression(query, result)));
    }
    return result;
  }

  private static Impression impression(String query, SearchResult result) {
    List<RankedPassage> ranked = new ArrayList<>(result.hits().size());
    for (Hit hit : result.hits()) {
      ranked.add(RankedPassage.newBuilder().setPassageId(hit.passageId()).setScore(hit.score()).build());
    }
    return Impression.newBuilder()
        .setQueryId(result.queryId())
        .setQuery(query)
        .setModelVersion(result.modelVersion())
        .setResults(ranked)
        .setTs(Instant.now())
        .build();
  }

  /**
   * Emits a {@code Click} keyed by the query id.
   *
   * @param queryId the {@link SearchResult#queryId()} the click belongs to; not blank
   * @param passageId the clicked passage, {@code docId#n}
   * @param rank 1-based position at which it was shown
   * @param dwellMs time spent on the result, {@code >= 0} (0 when unknown)
   * @return whether the click was handed to Kafka; false when events are off
   * @throws IllegalArgumentException if an argument is out of range or the passage id is malformed
   */
  public boolean recordClick(String queryId, String passageId, int rank, long dwellMs) {
    Objects.requireNonNull(queryId, "queryId");
    Objects.requireNonNull(passageId, "passageId");
    if (queryId.isBlank()) {
      throw new IllegalArgumentException("queryId must not be blank");
    }
    PassageId.parse(passageId);
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1: " + rank);
    }
    if (dwellMs < 0) {
      throw new IllegalArgumentException("dwellMs must be >= 0: " + dwellMs);
    }
    if (events == null) {
      return false;
    }
    Click click = Click.newBuilder().setQueryId(queryId).setPassageId(passageId).setRank(rank).setDwellMs(dwellMs)
        .setTs(Instant.now()).build();
    return send(Topics.CLICKS, queryId, clickSerde.encode(click));
  }

  /** Whether impressions and clicks are written. */
  public boolean eventsEnabled() {
    return events != null;
  }

  /** The model that embeds queries. */
  public ModelInfo model() {
    return embedder.info();
  }

  /** The index searched. */
  public PassageIndex index() {
    return index;
  }

  private boolean send(String topic, String key, byte[] value) {
    try {
      events.send(new ProducerRecord<>(topic, key, value), (metadata, e) -> {
        if (e != null) {
          failed(topic, e);
        }
      });
      return true;
    } catch (RuntimeException e) { // e.g. metadata not available within max.block.ms
      failed(topic, e);
      return false;
    }
  }

  private void failed(String topic, Exception e) {
    Counter.builder("d2search.events.failed").tag("topic", topic).description("Events that could not be sent")
        .register(registry).increment();
    log.warn("Could not send to {}: {}", topic, e.toString());
  }
}
