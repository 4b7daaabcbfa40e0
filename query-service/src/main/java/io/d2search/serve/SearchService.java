package io.d2search.serve;

import io.d2search.config.Settings;
import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.events.Click;
import io.d2search.events.Impression;
import io.d2search.events.RankedPassage;
import io.d2search.index.Hit;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageSearcher;
import io.d2search.index.PassageSearcher.Candidate;
import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
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
import java.util.Optional;
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
 * <p><b>Re-ranking</b> (two-stage retrieval, D2LLM's IEM; docs/d2llm-heads.md). Given the model bundle's {@link IemHead}, a search
 * takes the HNSW top {@code max(k, rerankDepth)}, reads those passages' vectors from the index, and returns the k
 * best by the {@link Reranker}: IEM logit of the asymmetric (query → passage) branch against the query vector, equal
 * logits keeping their HNSW order. The IEM gets exactly the vectors the embedder produced: the query's straight from
 * {@link Embedder#embed}, the passages' as indexed, which are the indexer's embedder output unchanged (both are
 * L2-normalised by the pooling, and the index only checks that). Without an IEM (model version 0) or when a request
 * turns it off, the HNSW order is the answer.
 *
 * <p>Events are best effort: a failed send is logged and counted ({@code d2search.events.failed}, tag
 * {@code topic}), never an error of the search. With no producer, impressions and clicks are off. An impression
 * carries each result's final score ({@link RankedHit#score()}).
 *
 * <p>Metrics: timer {@code d2search.search.latency} for the whole search, and {@code d2search.search.rerank} for the
 * re-ranking step (reading the candidates' vectors, IEM logits, sorting), both with a percentile histogram, so
 * Prometheus can compute p50/p99 across replicas.
 *
 * <p>Thread-safe. Owns nothing: the caller closes the index, the embedder and the producer.
 */
public final class SearchService {
  private static final Logger log = LoggerFactory.getLogger(SearchService.class);

  /** Largest k a search accepts. */
  public static final int MAX_K = 1000;
  /** Longest query, in characters. */
  public static final int MAX_QUERY_CHARS = 2000;
  /** HNSW candidates the IEM re-scores when not configured: the {@code search.rerank-depth} setting. */
  public static final int DEFAULT_RERANK_DEPTH = Settings.defaults().integer("search.rerank-depth");

  private final PassageIndex index;
  private final Embedder embedder;
  private final Reranker reranker; // null: no re-ranking
  private final int rerankDepth;
  private final IssuedQueries issued;
  private final Producer<String, byte[]> events;
  private final Timer latency;
  private final Timer rerank;
  private final MeterRegistry registry;
  private final AvroSerde<Impression> impressionSerde = Topics.impressionSerde();
  private final AvroSerde<Click> clickSerde = Topics.clickSerde();

  /**
   * A search service that ranks by the HNSW score alone.
   *
   * @see #SearchService(PassageIndex, Embedder, IemHead, int, MeterRegistry, Producer)
   */
  public SearchService(PassageIndex index, Embedder embedder, MeterRegistry registry, Producer<String, byte[]> events) {
    this(index, embedder, null, DEFAULT_RERANK_DEPTH, registry, events);
  }

  /**
   * @param index the index to search; its model version must be the embedder's
   * @param embedder embeds queries
   * @param iem the re-ranking head of the embedder's model bundle; null to rank by the HNSW score alone (a bundle
   *     without one, such as version 0)
   * @param rerankDepth HNSW candidates the IEM re-scores, in [1, {@link PassageIndex#MAX_K}]; a search for more
   *     results re-scores k
   * @param registry where the metrics go
   * @param events producer for {@code impressions} and {@code clicks}; null turns both off
   * @throws ModelVersionMismatchException if the embedder's model version is not the index's
   * @throws IllegalArgumentException if the IEM's dimension is not the embedder's, or the depth is out of range
   */
  public SearchService(PassageIndex index, Embedder embedder, IemHead iem, int rerankDepth, MeterRegistry registry,
      Producer<String, byte[]> events) {
    this(index, embedder, iem, rerankDepth, registry, events, new IssuedQueries(IssuedQueries.Policy.defaults()));
  }

  /**
   * @param issued signs the query ids of searches and checks clicks against them
   * @see #SearchService(PassageIndex, Embedder, IemHead, int, MeterRegistry, Producer)
   */
  public SearchService(PassageIndex index, Embedder embedder, IemHead iem, int rerankDepth, MeterRegistry registry,
      Producer<String, byte[]> events, IssuedQueries issued) {
    this.issued = Objects.requireNonNull(issued, "issued");
    this.index = Objects.requireNonNull(index, "index");
    this.embedder = Objects.requireNonNull(embedder, "embedder");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.reranker = iem == null ? null : new Reranker(iem);
    this.rerankDepth = rerankDepth;
    this.events = events;
    if (!embedder.info().version().equals(index.modelVersion())) {
      // A query must be embedded by the version of the index it searches: vectors of two versions live apart.
      throw new ModelVersionMismatchException(index.modelVersion(), embedder.info().version());
    }
    if (iem != null && iem.dimension() != embedder.info().dimension()) {
      throw new IllegalArgumentException("IEM head reads vectors of dimension " + iem.dimension() + ", model "
          + embedder.info().version() + " embeds " + embedder.info().dimension());
    }
    if (rerankDepth < 1 || rerankDepth > PassageIndex.MAX_K) {
      throw new IllegalArgumentException("rerankDepth must be in [1, " + PassageIndex.MAX_K + "]: " + rerankDepth);
    }
    this.latency = Timer.builder("d2search.search.latency")
        .description("Search requests: embed the query, HNSW top k, re-rank, load stored fields")
        .publishPercentileHistogram()
        .register(registry);
    this.rerank = Timer.builder("d2search.search.rerank")
        .description("Re-ranking of one search: read the HNSW candidates' vectors, IEM logits, sort")
        .publishPercentileHistogram()
        .register(registry);
  }

  /**
   * Searches, re-ranking with the IEM head when there is one, and emits an impression.
   *
   * @see #search(String, int, boolean)
   */
  public SearchResult search(String query, int k) {
    return search(query, k, true);
  }

  /**
   * Searches and emits an impression.
   *
   * @param query the query text; not blank, at most {@link #MAX_QUERY_CHARS} characters
   * @param k how many results at most, {@code 1 <= k <=} {@link #MAX_K}
   * @param rerank whether to re-rank with the IEM head; false gives the HNSW order (A/B tests, benchmarks). Without
   *     an IEM head the search never re-ranks, whatever this says ({@link SearchResult#reranked()} tells).
   * @throws IllegalArgumentException if the query or k is out of range
   */
  public SearchResult search(String query, int k, boolean rerank) {
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
    float[] vector = embedder.embed(query);
    boolean reranked = rerank && reranker != null;
    List<RankedHit> hits;
    try (PassageSearcher searcher = index.searcher()) {
      hits = reranked ? reranked(searcher, vector, k) : hnswOrder(searcher, vector, k);
    }
    long tookNanos = System.nanoTime() - start;
    latency.record(tookNanos, TimeUnit.NANOSECONDS);
    String queryId = issued.issue(hits.stream().map(RankedHit::passageId).toList(), System.currentTimeMillis());
    SearchResult result = new SearchResult(queryId, index.modelVersion(),
        TimeUnit.NANOSECONDS.toMillis(tookNanos), reranked, hits);
    if (events != null) {
      send(Topics.IMPRESSIONS, result.queryId(), impressionSerde.encode(impression(query, result)));
    }
    return result;
  }

  private static List<RankedHit> hnswOrder(PassageSearcher searcher, float[] query, int k) {
    List<Hit> hits = searcher.hits(searcher.search(query, k));
    List<RankedHit> ranked = new ArrayList<>(hits.size());
    for (int i = 0; i < hits.size(); i++) {
      ranked.add(new RankedHit(hits.get(i), i + 1, null));
    }
    return ranked;
  }

  /** HNSW top max(k, depth) → IEM logits of their indexed vectors → the k best; stored fields for those k only. */
  private List<RankedHit> reranked(PassageSearcher searcher, float[] query, int k) {
    List<Candidate> candidates = searcher.search(query, Math.max(k, rerankDepth));
    long start = System.nanoTime();
    List<Reranker.Scored> best = reranker.rerank(query, searcher.vectors(candidates), k);
    rerank.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    List<Hit> hits = searcher.hits(best.stream().map(s -> candidates.get(s.candidate())).toList());
    List<RankedHit> ranked = new ArrayList<>(hits.size());
    for (int i = 0; i < hits.size(); i++) {
      ranked.add(new RankedHit(hits.get(i), best.get(i).candidate() + 1, best.get(i).logit()));
    }
    return ranked;
  }

  private static Impression impression(String query, SearchResult result) {
    List<RankedPassage> ranked = new ArrayList<>(result.hits().size());
    for (RankedHit hit : result.hits()) {
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
   * @throws IssuedQueries.RejectedClick if the click cannot be right: a query id this service did not issue or
   *     that is older than the click window, or a passage not shown at that rank
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
    issued.check(queryId, passageId, rank, System.currentTimeMillis());
    if (events == null) {
      return false;
    }
    Click click = Click.newBuilder().setQueryId(queryId).setPassageId(passageId).setRank(rank).setDwellMs(dwellMs)
        .setTs(Instant.now()).build();
    return send(Topics.CLICKS, queryId, clickSerde.encode(click));
  }

  /** How clicks are checked. */
  public IssuedQueries.Policy clickPolicy() {
    return issued.policy();
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

  /** The re-ranking head; empty when searches rank by the HNSW score alone. */
  public Optional<IemHead> iem() {
    return Optional.ofNullable(reranker).map(Reranker::iem);
  }

  /** HNSW candidates the IEM re-scores per search; a search for more results re-scores k. */
  public int rerankDepth() {
    return rerankDepth;
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
