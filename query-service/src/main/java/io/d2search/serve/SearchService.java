package io.d2search.serve;

import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.events.Click;
import io.d2search.events.Impression;
import io.d2search.events.RankedPassage;
import io.d2search.events.Team;
import io.d2search.index.Hit;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageSearcher;
import io.d2search.index.PassageRanker;
import io.d2search.index.PassageSearcher.Candidate;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHead;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.PassageId;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Search over a {@link PassageIndex}, ranked by a {@link PassageRanker}: the first stage gathers candidates by the
 * request's {@link RetrievalMode} (HNSW over the query's vector, BM25 over title and text, or both fused), and the
 * model bundle's IEM head, when it has one, re-ranks them (two-stage retrieval, D2LLM's IEM; docs/d2llm-heads.md).
 * The query is embedded with the same {@link Embedder} code path that embedded the passages, and only when the
 * first stage or the re-ranker needs its vector. Each search is reported as an {@code Impression} (its mode, and
 * each result's first-stage ranks) so clicks can be joined to it later.
 *
 * <p><b>Re-ranking.</b> The IEM scores the top {@code max(k, rerankDepth)} first-stage candidates by their indexed
 * vectors against the query vector (asymmetric branch), equal logits keeping the first-stage order. The IEM gets
 * exactly the vectors the embedder produced: the query's straight from {@link Embedder#embed}, the passages' as
 * indexed. Without an IEM (model version 0) or when a request turns it off, the first-stage order is the answer.
 *
 * <p><b>Hot swap.</b> What ranks is a {@link ServingModel} that {@link #adopt} replaces whole (a model release with
 * a new IEM head over the same passage vectors), or {@link #switchTo} with another {@link VectorSpace} (a FULL
 * release). Each search reads it once, so no search mixes two versions, and its result and impression name the
 * version that ranked it.
 *
 * <p><b>Canary.</b> With a canary release set ({@link #setCanary}), a share of the searches that re-rank
 * ({@link SearchConfig#canaryShare()}) is answered by team-draft interleaving ({@link TeamDraft}) of the serving
 * model's ranking and the canary's over the same candidates; the impression names the canary and each result's team.
 *
 * <p>Events are best effort: a failed send is logged and counted ({@code d2search.events.failed}, tags
 * {@code topic} and {@code reason}: {@code producer}, or {@code queue-full} for an impression the sender thread had
 * no room for), never an error of the search. With no producer, impressions and clicks are off. An impression
 * carries each result's final score ({@link RankedHit#score()}).
 *
 * <p>Metrics: timer {@code d2search.search.latency} for the whole search, tagged by {@code mode}, and
 * {@code d2search.search.stage} per stage ({@code stage} = {@code embed}, itself {@code tokenize}, {@code encode}
 * and {@code pool}; {@code vector}, {@code keyword}, {@code fuse}, {@code read} (the re-ranked candidates'
 * vectors), {@code rerank} (IEM and sort), {@code stored}), all with a percentile histogram, so Prometheus can
 * compute p50/p99 across replicas. The impression is built and sent on a thread of its own ({@link EventSender}):
 * not part of a search's latency.
 *
 * <p>Thread-safe. Owns the impressions' sender thread ({@link #close()}); the caller closes the index, the embedder
 * and the producer, after this.
 */
public final class SearchService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SearchService.class);

  /** Largest k a search accepts. */
  public static final int MAX_K = 1000;
  /** Longest query, in characters. */
  public static final int MAX_QUERY_CHARS = 2000;
  /** First-stage candidates the IEM re-scores when not configured: the {@code search.rerank-depth} setting. */
  public static final int DEFAULT_RERANK_DEPTH = SearchConfig.DEFAULTS.rerankDepth();

  private final SearchConfig config;
  private final AtomicReference<ServingModel> serving;
  /** A canary release interleaved with {@link #serving} in a share of searches; null when none. */
  private final AtomicReference<ServingModel> canary = new AtomicReference<>();
  private final Counter interleaved;
  private final IssuedQueries issued;
  private final Producer<String, byte[]> events;
  private final MeterRegistry registry;
  private final Map<RetrievalMode, Timer> latency = new EnumMap<>(RetrievalMode.class);
  private final Timer embedTimer;
  private final Timer tokenizeTimer;
  private final Timer encodeTimer;
  private final Timer poolTimer;
  private final Timer readTimer;
  private final Timer storedTimer;
  private final Timer vectorTimer;
  private final Timer keywordTimer;
  private final Timer fuseTimer;
  private final Timer rerankTimer;
  private final AvroSerde<Impression> impressionSerde = Topics.impressionSerde();
  /** Impressions waiting for the sender thread at most; more are dropped and counted. */
  static final int IMPRESSION_QUEUE = 10_000;
  private final EventSender impressions; // null: impressions off
  private final AvroSerde<Click> clickSerde = Topics.clickSerde();

  /**
   * A search service with the default {@link SearchConfig} and no IEM head: the first stage's order.
   *
   * @see #SearchService(PassageIndex, Embedder, IemHead, SearchConfig, MeterRegistry, Producer, IssuedQueries)
   */
  public SearchService(PassageIndex index, Embedder embedder, MeterRegistry registry, Producer<String, byte[]> events) {
    this(index, embedder, null, SearchConfig.DEFAULTS, registry, events,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
  }

  /**
   * A search service with the default {@link SearchConfig} but for the re-rank depth.
   *
   * @see #SearchService(PassageIndex, Embedder, IemHead, SearchConfig, MeterRegistry, Producer, IssuedQueries)
   */
  public SearchService(PassageIndex index, Embedder embedder, IemHead iem, int rerankDepth, MeterRegistry registry,
      Producer<String, byte[]> events) {
    this(index, embedder, iem, SearchConfig.DEFAULTS.withRerankDepth(rerankDepth), registry, events,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
  }

  /**
   * @param index the index to search; its model version must be the embedder's
   * @param embedder embeds queries
   * @param iem the re-ranking head of the embedder's model bundle; null to rank by the first stage alone (a bundle
   *     without one, such as version 0)
   * @param config default mode, fusion and re-rank depth
   * @param registry where the metrics go
   * @param events producer for {@code impressions} and {@code clicks}; null turns both off
   * @param issued signs the query ids of searches and checks clicks against them
   * @throws ModelVersionMismatchException if the embedder's model version is not the index's
   * @throws IllegalArgumentException if the IEM's dimension is not the embedder's
   */
  public SearchService(PassageIndex index, Embedder embedder, IemHead iem, SearchConfig config, MeterRegistry registry,
      Producer<String, byte[]> events, IssuedQueries issued) {
    this(new VectorSpace(index.modelVersion(), Topics.EMBEDDINGS, index, Objects.requireNonNull(embedder, "embedder"),
        null), iem, config, registry, events, issued);
  }

  /**
   * A search service over a vector space (its index, query embedder and materialiser).
   *
   * @see #SearchService(PassageIndex, Embedder, IemHead, SearchConfig, MeterRegistry, Producer, IssuedQueries)
   */
  public SearchService(VectorSpace space, IemHead iem, SearchConfig config, MeterRegistry registry,
      Producer<String, byte[]> events, IssuedQueries issued) {
    Embedder embedder = space.embedder();
    this.issued = Objects.requireNonNull(issued, "issued");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.config = Objects.requireNonNull(config, "config");
    this.events = events;
    if (iem != null && iem.dimension() != embedder.info().dimension()) {
      throw new IllegalArgumentException("IEM head reads vectors of dimension " + iem.dimension() + ", model "
          + embedder.info().version() + " embeds " + embedder.info().dimension());
    }
    this.serving = new AtomicReference<>(ServingModel.of(embedder.info().version(), iem, config, space,
        Instant.now()));
    for (RetrievalMode mode : RetrievalMode.values()) {
      latency.put(mode, Timer.builder("d2search.search.latency")
          .description("Search requests: embed the query, first stage, re-rank, load stored fields")
          .tag("mode", mode.label())
          .publishPercentileHistogram()
          .register(registry));
    }
    this.embedTimer = stage("embed", "Embedding the query");
    this.vectorTimer = stage("vector", "HNSW search of the first stage");
    this.keywordTimer = stage("keyword", "BM25 search of the first stage");
    this.fuseTimer = stage("fuse", "Fusing the vector and keyword lists of a hybrid search");
    this.rerankTimer = stage("rerank", "Re-ranking: IEM logits of the candidates, sort");
    this.tokenizeTimer = stage("tokenize", "Tokenizing the query (part of embed)");
    this.encodeTimer = stage("encode", "The backbone over the query's tokens (part of embed)");
    this.poolTimer = stage("pool", "The pooling head over the query's token states (part of embed)");
    this.readTimer = stage("read", "Reading the re-ranked candidates' vectors from the index");
    this.storedTimer = stage("stored", "Loading the stored fields of the results shown");
    this.impressions = events == null ? null : new EventSender(events, Topics.IMPRESSIONS, IMPRESSION_QUEUE, registry,
        e -> failed(Topics.IMPRESSIONS, e));
    this.interleaved = Counter.builder("d2search.search.interleaved")
        .description("Searches answered by team-draft interleaving of the serving model and a canary release")
        .register(registry);
  }

  private Timer stage(String stage, String description) {
    return Timer.builder("d2search.search.stage").description(description).tag("stage", stage)
        .publishPercentileHistogram().register(registry);
  }

  /** Searches in the default mode, re-ranking with the IEM head when there is one, and emits an impression. */
  public SearchResult search(String query, int k) {
    return search(SearchRequest.of(query, k));
  }

  /**
   * Searches and emits an impression.
   *
   * @throws IllegalArgumentException if the query or k is out of range
   * @throws io.d2search.index.InvalidFilterException if the filter names an attribute the index does not know, or a
   *     value its type cannot read
   */
  public SearchResult search(SearchRequest request) {
    String query = request.query();
    if (query.isBlank()) {
      throw new IllegalArgumentException("query must not be blank");
    }
    if (query.length() > MAX_QUERY_CHARS) {
      throw new IllegalArgumentException("query must be at most " + MAX_QUERY_CHARS + " characters: " + query.length());
    }
    int k = request.k();
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be in [1, " + MAX_K + "]: " + k);
    }
    RetrievalMode mode = request.mode() != null ? request.mode() : config.mode();
    ServingModel model = serving.get(); // once: a swap during this search does not reach it
    ServingModel challenger = interleaveWith(model, request);
    PassageRanker ranker = model.ranker();
    long start = System.nanoTime();
    PassageRanker.Query ranked = new PassageRanker.Query(query, null, mode, k, request.filter(), request.rerank());
    if (ranked.needsVector(ranker) || (challenger != null && ranked.needsVector(challenger.ranker()))) {
      Embedder.Timed embedded = model.space().embedder().embedTimed(query);
      ranked = ranked.withVector(embedded.vector());
      embedTimer.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      tokenizeTimer.record(embedded.tokenizeNanos(), TimeUnit.NANOSECONDS);
      encodeTimer.record(embedded.encodeNanos(), TimeUnit.NANOSECONDS);
      poolTimer.record(embedded.poolNanos(), TimeUnit.NANOSECONDS);
    }
    List<RankedHit> hits;
    PassageRanker.Ranking ranking;
    try (PassageSearcher searcher = model.space().index().searcher()) {
      ranking = ranker.rank(searcher, ranked);
      List<TeamDraft.Pick<PassageRanker.Ranked>> shown;
      PassageRanker.Ranking canaryRanking = null;
      if (challenger != null) {
        // Both models rank the same candidates of the same searcher; the lists are merged by Lucene doc id.
        canaryRanking = challenger.ranker().rank(searcher, ranked);
        shown = TeamDraft.interleave(ranking.hits(), canaryRanking.hits(), k, r -> r.first().doc(),
            java.util.concurrent.ThreadLocalRandom.current());
      } else {
        shown = ranking.hits().stream().map(r -> new TeamDraft.Pick<>(r, null)).toList();
      }
      long storedStart = System.nanoTime();
      List<Hit> stored = searcher.hits(shown.stream()
          .map(p -> new Candidate(p.item().first().doc(), p.item().first().score())).toList());
      storedTimer.record(System.nanoTime() - storedStart, TimeUnit.NANOSECONDS);
      hits = new ArrayList<>(stored.size());
      for (int i = 0; i < stored.size(); i++) {
        TeamDraft.Pick<PassageRanker.Ranked> pick = shown.get(i);
        PassageRanker.Ranked r = pick.item();
        PassageRanker.Ranking from = pick.team() == Team.CANARY ? canaryRanking : ranking;
        String fusion = request.explain() && mode == RetrievalMode.HYBRID ? from.fusionExplain(r) : null;
        hits.add(new RankedHit(stored.get(i), r.firstStageRank(), r.first().vector(), r.first().keyword(),
            r.iemScore(), r.score(), fusion, pick.team()));
      }
    }
    long tookNanos = System.nanoTime() - start;
    record(ranking, mode, tookNanos);
    if (challenger != null) {
      interleaved.increment();
    }
    String queryId = issued.issue(hits.stream().map(RankedHit::passageId).toList(), System.currentTimeMillis());
    SearchResult result = new SearchResult(queryId, model.version(), TimeUnit.NANOSECONDS.toMillis(tookNanos),
        mode, ranking.reranked(), hits, challenger == null ? null : challenger.version());
    if (impressions != null) {
      impressions.submit(result.queryId(), () -> impressionSerde.encode(impression(query, result)));
    }
    return result;
  }

  private void record(PassageRanker.Ranking ranking, RetrievalMode mode, long tookNanos) {
    latency.get(mode).record(tookNanos, TimeUnit.NANOSECONDS);
    PassageRanker.Timing t = ranking.timing();
    if (mode.needsVector()) {
      vectorTimer.record(t.vectorNanos(), TimeUnit.NANOSECONDS);
    }
    if (mode != RetrievalMode.VECTOR) {
      keywordTimer.record(t.keywordNanos(), TimeUnit.NANOSECONDS);
    }
    if (mode == RetrievalMode.HYBRID) {
      fuseTimer.record(t.fuseNanos(), TimeUnit.NANOSECONDS);
    }
    if (ranking.reranked()) {
      readTimer.record(t.readNanos(), TimeUnit.NANOSECONDS);
      rerankTimer.record(t.rerankNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private static Impression impression(String query, SearchResult result) {
    List<RankedPassage> ranked = new ArrayList<>(result.hits().size());
    for (RankedHit hit : result.hits()) {
      ranked.add(RankedPassage.newBuilder().setPassageId(hit.passageId()).setScore(hit.score())
          .setFirstStageRank(hit.firstStageRank())
          .setVectorRank(hit.vector() == null ? null : hit.vector().rank())
          .setKeywordRank(hit.keyword() == null ? null : hit.keyword().rank())
          .setTeam(hit.team())
          .build());
    }
    return Impression.newBuilder()
        .setQueryId(result.queryId())
        .setQuery(query)
        .setModelVersion(result.modelVersion())
        .setCanaryVersion(result.canaryVersion())
        .setResults(ranked)
        .setMode(result.mode().label())
        .setReranked(result.reranked())
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

  /** The model that embeds queries now. */
  public ModelInfo model() {
    return serving.get().space().embedder().info();
  }

  /** The index searched now. */
  public PassageIndex index() {
    return serving.get().space().index();
  }

  /** The re-ranking head serving now; empty when searches rank by the first stage alone. */
  public Optional<IemHead> iem() {
    return serving.get().iemHead();
  }

  /** The model that ranks searches now: its version, IEM head, ranker, and since when. */
  public ServingModel serving() {
    return serving.get();
  }

  /**
   * Makes a model version rank every search that starts from now on, atomically: searches in flight finish with
   * the model they started with. The caller vouches that the version's passage vectors are the index's (a HEADS
   * release of the embedding model); only the IEM head changes.
   *
   * @param version the bundle version that ranks from now on; results and impressions carry it
   * @param iem its IEM head; null ranks by the first stage alone
   * @return the model now serving
   * @throws IllegalArgumentException if the IEM head does not read the index's dimension; nothing changes then
   */
  public ServingModel adopt(String version, IemHead iem) {
    ServingModel next = ServingModel.of(version, iem, config, serving.get().space(), Instant.now());
    serving.set(next);
    return next;
  }

  /**
   * Makes a model version rank every search that starts from now on over another vector space (a FULL release):
   * its queries are embedded by the space's embedder and searched in its index. Searches in flight finish in the
   * space they started in, so the caller closes the old one only after a grace period.
   *
   * @param version the bundle version that ranks from now on
   * @param iem its IEM head; null ranks by the first stage alone
   * @param space the index and embedder of its passage vectors, covering every live passage
   * @return the model now serving
   * @throws IllegalArgumentException if the IEM head does not read the space's dimension; nothing changes then
   */
  public ServingModel switchTo(String version, IemHead iem, VectorSpace space) {
    ServingModel next = ServingModel.of(version, iem, config, Objects.requireNonNull(space, "space"), Instant.now());
    serving.set(next);
    return next;
  }

  /**
   * Makes a canary release rank a share ({@link SearchConfig#canaryShare()}) of the searches that start from now on,
   * team-draft interleaved with the serving model ({@link TeamDraft}); null withdraws the canary. The caller vouches
   * that it ranks over the serving model's vector space.
   *
   * @param version the canary's bundle version; impressions of interleaved searches carry it
   * @param iem its IEM head
   * @return the canary model now live, or null when withdrawn
   */
  public ServingModel setCanary(String version, IemHead iem) {
    if (version == null) {
      canary.set(null);
      return null;
    }
    ServingModel next = ServingModel.of(version, iem, config, serving.get().space(), Instant.now());
    canary.set(next);
    return next;
  }

  /** The canary release live now, if any. */
  public Optional<ServingModel> canary() {
    return Optional.ofNullable(canary.get());
  }

  /**
   * The canary this search is interleaved with: one over the serving model's vector space, for a share of the
   * searches that re-rank (with re-ranking off both models would rank alike); else null.
   */
  private ServingModel interleaveWith(ServingModel model, SearchRequest request) {
    ServingModel challenger = canary.get();
    if (challenger == null || challenger.space() != model.space() || !request.rerank()
        || challenger.version().equals(model.version())) {
      return null;
    }
    return java.util.concurrent.ThreadLocalRandom.current().nextDouble() < config.canaryShare() ? challenger : null;
  }

  /** Default mode, fusion and re-rank depth. */
  public SearchConfig config() {
    return config;
  }

  /** First-stage candidates the IEM re-scores per search; a search for more results re-scores k. */
  public int rerankDepth() {
    return config.rerankDepth();
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
    Counter.builder("d2search.events.failed").tag("topic", topic).tag("reason", "producer")
        .description("Events that could not be sent")
        .register(registry).increment();
    log.warn("Could not send to {}: {}", topic, e.toString());
  }

  /** Hands the impressions still queued to the producer (waiting up to 5 s) and stops their thread. */
  @Override
  public void close() {
    if (impressions != null) {
      impressions.close();
    }
  }
}
