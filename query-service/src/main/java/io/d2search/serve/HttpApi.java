package io.d2search.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.Filter;
import io.d2search.index.FirstStageHit.StageScore;
import io.d2search.index.Hit;
import io.d2search.index.RetrievalMode;
import io.d2search.index.PassageIndex;
import io.d2search.schemas.PassageId;
import io.javalin.Javalin;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.HttpStatus;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API of the query-service (Javalin on Jetty), JSON in and out:
 *
 * <ul>
 *   <li>{@code POST /search} {@code {"query": "...", "k": 10, "mode": "hybrid", "rerank": true, "filter": {...},
 *       "explain": false}} (k optional, default 10, in [1, 1000]; query not blank, at most 2000 characters; mode
 *       optional: vector, keyword or hybrid, default {@code search.mode}; rerank optional, default true, also
 *       accepted as the URL parameter {@code ?rerank=true|false}; filter optional, {@link FilterJson}'s form;
 *       explain optional) → 200 {@code {"queryId", "modelVersion", "tookMs", "mode", "reranked", "results":
 *       [{"passageId", "docId", "title", "text", "url", "attributes", "score", "firstStageScore", "firstStageRank",
 *       "iemScore", "explain"}]}}. Results are ordered by {@code score}, best first: the IEM logit when
 *       {@code reranked} (the model has an IEM head and the request did not say {@code rerank=false}), else the
 *       first-stage score (HNSW {@code (1 + cos) / 2}, BM25, or the fused score). With {@code explain}, each result
 *       says where the vector and keyword retrievers ranked it, the fusion's arithmetic and the IEM logit. A filter
 *       that is malformed, of the wrong type, or on an attribute the index does not know is a 400.
 *   <li>{@code POST /clicks} {@code {"queryId", "passageId", "rank", "dwellMs"}} (dwellMs optional) → 202
 *       {@code {"status": "accepted", "recorded": true|false}} (false when events are off)
 *   <li>{@code GET /health} → 200 {@code {"status": "ready", ...}} once the index has caught up with the topic;
 *       503 {@code {"status": "catching-up", "lag": n}} before (n = -1 while unknown), 503
 *       {@code {"status": "failed", "error": "..."}} if materialising stopped
 *   <li>{@code GET /metrics} → Prometheus text format
 *   <li>{@code GET /} → the search page ({@code /assets/page.js}, {@code /assets/page.css}): searches, shows each
 *       stage's ranks, and reports clicks with their dwell time to {@code POST /clicks}; always open (its calls need a
 *       token when the API has them)
 *   <li>{@code GET /openapi.json} → this API as an OpenAPI 3.1 document (open)
 *   <li>{@code GET /models} → {@code {"model": {...}, "index": {...}, "retrieval": {...}, "rerank": {...},
 *       "releases": {...}}}: the embedding model, the index (HNSW parameters, declared attribute types), the default
 *       mode and fusion, the re-ranker serving now (its model version and since when), and how the service follows
 *       {@code model-releases} (releases adopted, refused, ignored; the last refusal and why)
 * </ul>
 *
 * <p>Every client error (malformed JSON, wrong types, missing or out-of-range fields, unknown path, wrong
 * method) is a 4xx with {@code {"error": "..."}}; only a fault of the service is a 500.
 *
 * <p>Thread-safe; Jetty serves requests on its own threads. Owns only the server: closing it does not close
 * the search service or the materialiser.
 */
public final class HttpApi implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);

  /** Every route, as {@code METHOD path}: each is registered and described in {@code /openapi.json} (a test checks). */
  static final List<String> ROUTES = List.of("POST /search", "POST /clicks", "GET /health", "GET /metrics",
      "GET /models", "GET /openapi.json", "GET /", "GET /assets/page.js", "GET /assets/page.css");
  /** The members a search request may have; any other is refused (a misspelt "filters" would be ignored). */
  static final java.util.Set<String> SEARCH_FIELDS = java.util.Set.of("query", "k", "mode", "rerank", "filter",
      "explain");
  /** The members a click may have. */
  static final java.util.Set<String> CLICK_FIELDS = java.util.Set.of("queryId", "passageId", "rank", "dwellMs");

  /** k when a search request does not say. */
  public static final int DEFAULT_K = 10;
  /** Longest query id a click may carry. */
  static final int MAX_QUERY_ID_CHARS = 200;
  private static final String JSON = "application/json";
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final SearchService search;
  private final EmbeddingsMaterializer materializer;
  private final PrometheusMeterRegistry registry;
  private final Timer parseTimer;
  private final Timer serializeTimer;
  private final List<HealthCheck> checks;
  private final ClickLimiter clickLimiter;
  private final ApiTokens tokens;
  private final Supplier<ReleaseStatus> releases;
  private final ObjectMapper mapper = new ObjectMapper();
  private final AtomicBoolean closed = new AtomicBoolean();
  private Javalin app;

  private HttpApi(SearchService search, EmbeddingsMaterializer materializer, PrometheusMeterRegistry registry,
      List<HealthCheck> checks, ApiTokens tokens, Supplier<ReleaseStatus> releases) {
    this.checks = checks;
    this.tokens = tokens;
    this.releases = releases;
    this.clickLimiter = new ClickLimiter(search.clickPolicy().clicksPerMinute());
    this.search = search;
    this.materializer = materializer;
    this.registry = registry;
    this.parseTimer = Timer.builder("d2search.search.stage").tag("stage", "parse")
        .description("Reading and checking a search request's JSON body").publishPercentileHistogram()
        .register(registry);
    this.serializeTimer = Timer.builder("d2search.search.stage").tag("stage", "serialize")
        .description("Writing a search response's JSON body").publishPercentileHistogram().register(registry);
  }

  /**
   * Starts the server and returns once it listens.
   *
   * @param host interface to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
   * @param port TCP port; 0 picks a free one (see {@link #port()})
   * @param search answers searches and records clicks
   * @param materializer tells readiness for {@code /health} when the serving space has none of its own; null for an
   *     index no topic feeds (a fixed index, as {@code bench index} serves): always caught up
   * @param registry scraped by {@code /metrics}
   */
  public static HttpApi start(String host, int port, SearchService search, EmbeddingsMaterializer materializer,
      PrometheusMeterRegistry registry) {
    return start(host, port, search, materializer, registry, List.of());
  }

  /**
   * {@link #start(String, int, SearchService, EmbeddingsMaterializer, PrometheusMeterRegistry)} with more parts
   * whose health {@code /health} reports and requires (e.g. the demo's indexer).
   */
  public static HttpApi start(String host, int port, SearchService search, EmbeddingsMaterializer materializer,
      PrometheusMeterRegistry registry, List<HealthCheck> checks) {
    return start(host, port, search, materializer, registry, checks, ApiTokens.none());
  }

  /** ... and with bearer tokens: every route but {@code /health} then needs one with its right. */
  public static HttpApi start(String host, int port, SearchService search, EmbeddingsMaterializer materializer,
      PrometheusMeterRegistry registry, List<HealthCheck> checks, ApiTokens tokens) {
    return start(host, port, search, materializer, registry, checks, tokens, ReleaseStatus::off);
  }

  /** ... and with what {@code /models} says about model releases (a {@link ReleaseWatcher}'s status). */
  public static HttpApi start(String host, int port, SearchService search, EmbeddingsMaterializer materializer,
      PrometheusMeterRegistry registry, List<HealthCheck> checks, ApiTokens tokens,
      Supplier<ReleaseStatus> releases) {
    Objects.requireNonNull(host, "host");
    HttpApi api = new HttpApi(Objects.requireNonNull(search, "search"),
        materializer, Objects.requireNonNull(registry, "registry"),
        List.copyOf(checks), Objects.requireNonNull(tokens, "tokens"), Objects.requireNonNull(releases, "releases"));
    api.app = Javalin.create(config -> {
      config.startup.showJavalinBanner = false;
      config.startup.showOldJavalinVersionWarning = false;
      config.http.prefer405over404 = true;
      config.jetty.host = host;
      config.jetty.port = port;
      // Requests Jetty refuses before routing (bad URIs, oversized query strings) answer JSON like the rest.
      config.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler()));
      config.routes.beforeMatched(api::authorize);
      config.routes.post("/search", api::search);
      config.routes.post("/clicks", api::click);
      config.routes.get("/health", api::health);
      config.routes.get("/metrics", api::metrics);
      config.routes.get("/models", api::models);
      // The search page: static files from the jar, no CDN; the page calls /search and /clicks like any client.
      config.routes.get("/", ctx -> page(ctx, "page/index.html", "text/html; charset=utf-8"));
      config.routes.get("/assets/page.js", ctx -> page(ctx, "page/page.js", "text/javascript; charset=utf-8"));
      config.routes.get("/assets/page.css", ctx -> page(ctx, "page/page.css", "text/css; charset=utf-8"));
      config.routes.get("/openapi.json", ctx -> page(ctx, "openapi.json", JSON));
      config.routes.exception(HttpResponseException.class, (e, ctx) -> api.error(ctx, e.getStatus(), e.getMessage()));
      config.routes.exception(Exception.class, (e, ctx) -> {
        log.error("{} {} failed", ctx.method(), ctx.path(), e);
        api.error(ctx, HttpStatus.INTERNAL_SERVER_ERROR.getCode(), "internal error");
      });
      // Javalin answers unknown paths and methods itself; make those bodies JSON too.
      config.routes.error(HttpStatus.NOT_FOUND, ctx -> api.errorIfNoBody(ctx, "not found: " + ctx.method() + " "
          + ctx.path()));
      config.routes.error(HttpStatus.METHOD_NOT_ALLOWED, ctx -> api.errorIfNoBody(ctx, "method not allowed: "
          + ctx.method() + " " + ctx.path()));
    }).start();
    log.info("HTTP API listening on {}:{}", host, api.port());
    return api;
  }

  /** The port the server listens on (the chosen one when started with port 0). */
  public int port() {
    return app.port();
  }

  /** Stops the server; requests in flight finish first. Calling it again does nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      app.stop();
    }
  }

  private void search(Context ctx) throws Exception {
    long start = System.nanoTime();
    JsonNode body = jsonObject(ctx);
    onlyKnown(body, SEARCH_FIELDS);
    String query = requiredText(body, "query");
    if (query.isBlank()) {
      throw new BadRequestResponse("query must not be blank");
    }
    if (query.length() > SearchService.MAX_QUERY_CHARS) {
      throw new BadRequestResponse("query must be at most " + SearchService.MAX_QUERY_CHARS + " characters");
    }
    int k = optionalInt(body, "k", DEFAULT_K);
    if (k < 1 || k > SearchService.MAX_K) {
      throw new BadRequestResponse("k must be in [1, " + SearchService.MAX_K + "]: " + k);
    }
    RetrievalMode mode = null;
    JsonNode modeNode = body.get("mode");
    if (modeNode != null && !modeNode.isNull()) {
      if (!modeNode.isTextual()) {
        throw new BadRequestResponse("mode must be a string: vector, keyword or hybrid");
      }
      try {
        mode = RetrievalMode.parse(modeNode.textValue());
      } catch (IllegalArgumentException e) {
        throw new BadRequestResponse(e.getMessage());
      }
    }
    boolean explain = optionalBoolean(body, "explain", false);
    SearchResult result;
    try {
      Filter filter = FilterJson.parse(body.get("filter"));
      SearchRequest request = new SearchRequest(query, k, mode, rerank(ctx, body), filter, explain);
      parseTimer.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      result = search.search(request);
    } catch (IllegalArgumentException e) { // a filter the index cannot apply, a query Lucene refuses
      throw new BadRequestResponse(e.getMessage());
    }
    long serializing = System.nanoTime();
    List<ResultJson> results = result.hits().stream().map(h -> ResultJson.of(h, explain)).toList();
    json(ctx, HttpStatus.OK.getCode(), new SearchResponse(result.queryId(), result.modelVersion(), result.tookMs(),
        result.mode().label(), result.reranked(), results));
    serializeTimer.record(System.nanoTime() - serializing, TimeUnit.NANOSECONDS);
  }

  private static boolean optionalBoolean(JsonNode body, String field, boolean fallback) {
    JsonNode node = body.get(field);
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isBoolean()) {
      throw new BadRequestResponse(field + " must be a boolean");
    }
    return node.booleanValue();
  }

  /** The {@code rerank} flag from the URL or the body (true when neither says); both may say it if they agree. */
  private static boolean rerank(Context ctx, JsonNode body) {
    Boolean fromUrl = null;
    List<String> params = ctx.queryParams("rerank");
    if (params.size() > 1) {
      throw new BadRequestResponse("rerank must be given once");
    }
    if (params.size() == 1) {
      fromUrl = switch (params.get(0)) {
        case "true" -> true;
        case "false" -> false;
        default -> throw new BadRequestResponse("rerank must be true or false");
      };
    }
    Boolean fromBody = null;
    JsonNode node = body.get("rerank");
    if (node != null && !node.isNull()) {
      if (!node.isBoolean()) {
        throw new BadRequestResponse("rerank must be a boolean");
      }
      fromBody = node.booleanValue();
    }
    if (fromUrl != null && fromBody != null && !fromUrl.equals(fromBody)) {
      throw new BadRequestResponse("rerank is " + fromUrl + " in the URL but " + fromBody + " in the body");
    }
    return fromUrl != null ? fromUrl : fromBody != null ? fromBody : true;
  }

  private void click(Context ctx) throws Exception {
    JsonNode body = jsonObject(ctx);
    onlyKnown(body, CLICK_FIELDS);
    String queryId = requiredText(body, "queryId");
    if (queryId.isBlank() || queryId.length() > MAX_QUERY_ID_CHARS) {
      throw new BadRequestResponse("queryId must be non-blank and at most " + MAX_QUERY_ID_CHARS + " characters");
    }
    String passageId = requiredText(body, "passageId");
    try {
      PassageId.parse(passageId);
    } catch (IllegalArgumentException e) {
      throw new BadRequestResponse("passageId must be docId#n: " + passageId);
    }
    int rank = requiredInt(body, "rank");
    if (rank < 1) {
      throw new BadRequestResponse("rank must be >= 1: " + rank);
    }
    long dwellMs = optionalLong(body, "dwellMs", 0);
    if (dwellMs < 0) {
      throw new BadRequestResponse("dwellMs must be >= 0: " + dwellMs);
    }
    if (!clickLimiter.tryAcquire(ctx.ip())) {
      throw new HttpResponseException(HttpStatus.TOO_MANY_REQUESTS.getCode(), "too many clicks from this client: at"
          + " most " + search.clickPolicy().clicksPerMinute() + " a minute");
    }
    boolean recorded;
    try {
      recorded = search.recordClick(queryId, passageId, rank, dwellMs);
    } catch (IssuedQueries.RejectedClick e) {
      throw new HttpResponseException(HttpStatus.UNPROCESSABLE_CONTENT.getCode(), e.getMessage());
    }
    json(ctx, HttpStatus.ACCEPTED.getCode(), Map.of("status", "accepted", "recorded", recorded));
  }

  /** With tokens configured: 401 without a known bearer token, 403 when it lacks the route's right. */
  private void authorize(Context ctx) {
    ApiTokens.Right needed = switch (ctx.path()) {
      case "/search", "/models" -> ApiTokens.Right.SEARCH;
      case "/clicks" -> ApiTokens.Right.CLICKS;
      case "/metrics" -> ApiTokens.Right.ADMIN;
      default -> null; // /health stays open for probes
    };
    if (!tokens.enabled() || needed == null) {
      return;
    }
    String header = ctx.header("Authorization");
    String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : "";
    java.util.Optional<java.util.Set<ApiTokens.Right>> rights = tokens.rights(token);
    if (rights.isEmpty()) {
      ctx.header("WWW-Authenticate", "Bearer");
      throw new HttpResponseException(HttpStatus.UNAUTHORIZED.getCode(), "a bearer token is required");
    }
    if (!rights.get().contains(needed)) {
      throw new HttpResponseException(HttpStatus.FORBIDDEN.getCode(), "this token may not use " + ctx.path());
    }
  }

  /**
   * 200 when the index has caught up with its topic and every other part is ready; else 503. The body says which
   * part is behind and by how much: {@code {"status", "lag", "passages", "components": [{name, status, ready,
   * detail, lag}]}}.
   */
  private void health(Context ctx) throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    boolean ready;
    // After a FULL release's switch, the serving space's materialiser is the one that says how current searches are.
    EmbeddingsMaterializer materializer = search.serving().space().materializerIfAny().orElse(this.materializer);
    if (materializer == null) {
      ready = true;
      body.put("status", "ready");
      body.put("lag", 0);
      body.put("passages", search.index().size());
    } else if (materializer.failure().isPresent()) {
      ready = false;
      body.put("status", "failed");
      body.put("error", String.valueOf(materializer.failure().get()));
    } else if (materializer.caughtUp()) {
      ready = true;
      body.put("status", "ready");
      body.put("lag", materializer.lag());
      body.put("passages", search.index().size());
    } else {
      ready = false;
      body.put("status", "catching-up");
      body.put("lag", materializer.lag());
    }
    if (!checks.isEmpty()) {
      List<Map<String, Object>> components = new ArrayList<>();
      for (HealthCheck check : checks) {
        ComponentHealth h = check.check();
        components.add(h.body());
        if (!h.ready() && ready) {
          ready = false;
          body.put("status", h.name() + " " + h.status());
        }
      }
      body.put("components", components);
    }
    json(ctx, ready ? HttpStatus.OK.getCode() : HttpStatus.SERVICE_UNAVAILABLE.getCode(), body);
  }

  private void metrics(Context ctx) {
    ctx.contentType(PROMETHEUS_TEXT).result(registry.scrape());
  }

  private void models(Context ctx) throws Exception {
    ServingModel serving = search.serving(); // once: the fields below describe one model over one index
    PassageIndex index = serving.space().index();
    Map<String, Object> indexInfo = new LinkedHashMap<>();
    indexInfo.put("modelVersion", index.modelVersion());
    indexInfo.put("topic", serving.space().topic());
    indexInfo.put("passages", index.size());
    indexInfo.put("hnswM", index.config().hnswM());
    indexInfo.put("hnswBeamWidth", index.config().hnswBeamWidth());
    indexInfo.put("efSearch", index.config().efSearch());
    indexInfo.put("similarity", "dot_product");
    indexInfo.put("keywordAnalyzer", "english");
    indexInfo.put("attributes", index.config().attributes().declared().entrySet().stream().collect(
        java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().name().toLowerCase(java.util.Locale.ROOT),
            (a, b) -> a, java.util.TreeMap::new)));
    SearchConfig config = search.config();
    Map<String, Object> retrieval = new LinkedHashMap<>();
    retrieval.put("mode", config.mode().label());
    retrieval.put("fusion", config.fusion().label());
    retrieval.put("rrfK", config.fusion().rrfK());
    retrieval.put("vectorWeight", config.fusion().vectorWeight());
    retrieval.put("keywordWeight", config.fusion().keywordWeight());
    retrieval.put("depth", config.rerankDepth());
    Map<String, Object> rerankInfo = new LinkedHashMap<>();
    rerankInfo.put("enabled", serving.iem() != null);
    rerankInfo.put("version", serving.version());
    rerankInfo.put("since", serving.since().toString());
    serving.iemHead().ifPresent(iem -> {
      rerankInfo.put("input", iem.input().id());
      rerankInfo.put("hidden", iem.hidden());
      rerankInfo.put("branch", "asymmetric");
      rerankInfo.put("depth", search.rerankDepth());
      rerankInfo.put("firstStageWeight", search.config().rerankFirstStageWeight());
    });
    Map<String, Object> releaseInfo = releasesInfo(releases.get());
    Map<String, Object> canary = null;
    if (search.canary().isPresent()) {
      ServingModel c = search.canary().get();
      canary = new LinkedHashMap<>();
      canary.put("version", c.version());
      canary.put("since", c.since().toString());
      canary.put("share", search.config().canaryShare());
    }
    releaseInfo.put("canary", canary);
    json(ctx, HttpStatus.OK.getCode(), Map.of("model", serving.space().embedder().info(), "index", indexInfo, "retrieval", retrieval,
        "rerank", rerankInfo, "releases", releaseInfo));
  }

  private static Map<String, Object> releasesInfo(ReleaseStatus status) {
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("watching", status.watching());
    info.put("caughtUp", status.caughtUp());
    info.put("adopted", status.adopted());
    info.put("pending", status.pending());
    info.put("refused", status.refused());
    info.put("ignored", status.ignored());
    ReleaseStatus.Refusal refusal = status.lastRefused();
    Map<String, Object> last = null;
    if (refusal != null) {
      last = new LinkedHashMap<>();
      last.put("version", refusal.version());
      last.put("reason", refusal.reason());
      last.put("at", refusal.at().toString());
    }
    info.put("lastRefused", last);
    ReleaseStatus.Building building = status.building();
    Map<String, Object> built = null;
    if (building != null) {
      built = new LinkedHashMap<>();
      built.put("release", building.release());
      built.put("vectors", building.version());
      built.put("topic", building.topic());
      built.put("passages", building.passages());
      built.put("coverage", building.coverage());
      built.put("since", building.since().toString());
    }
    info.put("building", built);
    return info;
  }

  /** Page files, read once from the jar. */
  private static final Map<String, byte[]> PAGE = new java.util.concurrent.ConcurrentHashMap<>();

  private static void page(Context ctx, String file, String contentType) {
    byte[] bytes = PAGE.computeIfAbsent(file, f -> {
      try (java.io.InputStream in = HttpApi.class.getResourceAsStream(f)) {
        if (in == null) {
          throw new IllegalStateException(f + " is missing from the jar");
        }
        return in.readAllBytes();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    ctx.status(HttpStatus.OK.getCode()).contentType(contentType)
        .header("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
        .header("X-Content-Type-Options", "nosniff").result(bytes);
  }

  private JsonNode jsonObject(Context ctx) {
    JsonNode body;
    try {
      body = mapper.readTree(ctx.bodyAsBytes());
    } catch (JacksonException e) {
      throw new BadRequestResponse("invalid JSON: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw new BadRequestResponse("unreadable request body");
    }
    if (body == null || !body.isObject()) {
      throw new BadRequestResponse("request body must be a JSON object");
    }
    return body;
  }

  private static void onlyKnown(JsonNode body, java.util.Set<String> known) {
    for (String name : (Iterable<String>) () -> body.fieldNames()) {
      if (!known.contains(name)) {
        throw new BadRequestResponse("unknown field '" + name + "' (fields: " + String.join(", ",
            new java.util.TreeSet<>(known)) + ")");
      }
    }
  }

  private static String requiredText(JsonNode body, String field) {
    JsonNode node = body.get(field);
    if (node == null || node.isNull()) {
      throw new BadRequestResponse(field + " is required");
    }
    if (!node.isTextual()) {
      throw new BadRequestResponse(field + " must be a string");
    }
    return node.textValue();
  }

  private static int requiredInt(JsonNode body, String field) {
    JsonNode node = body.get(field);
    if (node == null || node.isNull()) {
      throw new BadRequestResponse(field + " is required");
    }
    return intValue(node, field);
  }

  private static int optionalInt(JsonNode body, String field, int fallback) {
    JsonNode node = body.get(field);
    return node == null || node.isNull() ? fallback : intValue(node, field);
  }

  private static int intValue(JsonNode node, String field) {
    if (!node.isIntegralNumber() || !node.canConvertToInt()) {
      throw new BadRequestResponse(field + " must be an integer");
    }
    return node.intValue();
  }

  private static long optionalLong(JsonNode body, String field, long fallback) {
    JsonNode node = body.get(field);
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isIntegralNumber() || !node.canConvertToLong()) {
      throw new BadRequestResponse(field + " must be an integer");
    }
    return node.longValue();
  }

  private void json(Context ctx, int status, Object body) throws Exception {
    ctx.status(status).contentType(JSON).result(mapper.writeValueAsBytes(body));
  }

  private void error(Context ctx, int status, String message) {
    try {
      json(ctx, status, Map.of("error", message == null || message.isBlank() ? "HTTP " + status : message));
    } catch (Exception e) {
      ctx.status(status).result("{\"error\":\"unprintable error\"}");
    }
  }

  private void errorIfNoBody(Context ctx, String message) {
    String current = ctx.result();
    if (current == null || current.isEmpty() || !current.startsWith("{\"error\"")) {
      error(ctx, ctx.status().getCode(), message);
    }
  }

  /**
   * One result of {@code POST /search}: {@code firstStageScore} and {@code firstStageRank} are the first stage's,
   * {@code iemScore} is null when the search did not re-rank; {@code explain} is null unless asked for.
   */
  record ResultJson(String passageId, String docId, String title, String text, String url,
      Map<String, String> attributes, float score, float firstStageScore, int firstStageRank, Float iemScore,
      Explain explain) {
    static ResultJson of(RankedHit ranked, boolean explain) {
      Hit hit = ranked.hit();
      return new ResultJson(hit.passageId(), hit.docId(), hit.title(), hit.text(), hit.url(), hit.attributes(),
          ranked.score(), ranked.firstStageScore(), ranked.firstStageRank(), ranked.iemScore(),
          explain ? new Explain(ranked.vector(), ranked.keyword(), new Stage(ranked.firstStageRank(),
              ranked.firstStageScore()), ranked.fusion(), ranked.iemScore()) : null);
    }
  }

  /** A rank and a score. */
  record Stage(int rank, float score) {}

  /**
   * Each stage's view of a result: the vector (HNSW) and keyword (BM25) retrievers' rank and score (null when the
   * retriever did not return it, or did not run), the first stage's (fused, in hybrid mode), the fusion arithmetic
   * (hybrid only), and the IEM logit (null when not re-ranked).
   */
  record Explain(StageScore vector, StageScore keyword, Stage firstStage, String fusion, Float iem) {}

  /** The body of {@code POST /search}'s answer. */
  record SearchResponse(String queryId, String modelVersion, long tookMs, String mode, boolean reranked,
      List<ResultJson> results) {}
}
