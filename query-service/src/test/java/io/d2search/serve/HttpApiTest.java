package io.d2search.serve;

import io.d2search.rank.IemHeads;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.HitAssertions;
import io.d2search.index.IndexConfig;
import io.d2search.schemas.AttributeSchema;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.PassageIndex;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.HashMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The HTTP API on an ephemeral port, over a real index filled with real embeddings of the bundled model. The
 * materialiser points at a port where no broker listens, so the service stays "catching-up": readiness against a
 * real broker is {@code QueryServiceIT}'s part. A second server over the same index re-ranks with an IEM head that
 * reverses the HNSW order ({@link IemHeads#negatedSimilarity}), so whether a search re-ranked shows in the order.
 */
class HttpApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** doc id, title, text: distinct topics, so the nearest passage to a query is not in doubt. */
  static final List<String[]> CORPUS = List.of(
      new String[] {"cats", "Cats", "The domestic cat is a small carnivorous mammal often kept as a pet."},
      new String[] {"stocks", "Markets", "The stock market fell sharply as investors sold technology shares."},
      new String[] {"bread", "Baking", "Bread is made from flour, water, salt and yeast, then baked in an oven."},
      new String[] {"volcano", "Volcanoes", "A volcano erupts when molten rock rises through the earth's crust."},
      new String[] {"chess", "Chess", "Chess is a board game for two players who move sixteen pieces each."});

  @TempDir static Path dir;
  private static Embedder embedder;
  private static PassageIndex index;
  private static EmbeddingsMaterializer materializer;
  private static PrometheusMeterRegistry registry;
  private static HttpApi api;
  private static HttpApi reranking;

  @BeforeAll
  static void start() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
    index = PassageIndex.open(dir.resolve("index"), embedder.info().version(),
        IndexConfig.defaults().withAttributes(AttributeSchema.parse("year:long,published:date")));
    int year = 1990;
    for (String[] doc : CORPUS) {
      PassageEmbedding e = embedding(embedder, doc[0], 0, doc[1], doc[2]);
      // Attributes to filter on: a keyword, a year and a date, each document its own.
      e.setAttributes(Map.of("topic", doc[0].equals("cats") || doc[0].equals("volcano") ? "nature" : "culture",
          "year", Integer.toString(year), "published", year + "-06-01"));
      year += 5;
      index.upsert(doc[0] + "#0", e);
    }
    index.refresh();
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    materializer = EmbeddingsMaterializer.start(index, MaterializerConfig.defaults("127.0.0.1:1"), registry);
    api = HttpApi.start("127.0.0.1", 0, new SearchService(index, embedder, registry, null), materializer, registry);
    PrometheusMeterRegistry rerankingRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    reranking = HttpApi.start("127.0.0.1", 0, new SearchService(index, embedder,
        IemHeads.negatedSimilarity(embedder.info().dimension()), SearchConfig.DEFAULTS.withRerankDepth(3)
            .withRerankFirstStageWeight(0), rerankingRegistry, null, new IssuedQueries(IssuedQueries.Policy.defaults())),
        materializer, rerankingRegistry);
  }

  @AfterAll
  static void stop() {
    if (reranking != null) {
      reranking.close();
    }
    if (api != null) {
      api.close();
    }
    if (materializer != null) {
      materializer.close();
    }
    if (index != null) {
      index.close();
    }
    if (embedder != null) {
      embedder.close();
    }
  }

  static PassageEmbedding embedding(Embedder embedder, String docId, int n, String title, String text) {
    String embedded = EmbedText.of(title, text);
    List<Float> vector = new ArrayList<>();
    for (float x : embedder.embed(embedded)) {
      vector.add(x);
    }
    return PassageEmbedding.newBuilder().setDocId(docId).setN(n).setModelVersion(embedder.info().version())
        .setVector(vector).setTextHash(TextHash.sha256(embedded)).setTitle(title).setText(text)
        .setUrl("https://example.org/" + docId).setDocVersion(1).build();
  }

  private static HttpResponse<String> send(String method, String path, String body) throws Exception {
    return send(api, method, path, body);
  }

  private static HttpResponse<String> send(HttpApi server, String method, String path, String body) throws Exception {
    return sendAs(server, null, method, path, body);
  }

  /** A request with {@code Authorization: Bearer token} when the token is not null. */
  private static HttpResponse<String> sendAs(HttpApi server, String token, String method, String path, String body)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json");
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(body));
    return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    assertThat(response.headers().firstValue("Content-Type")).get().asString().startsWith("application/json");
    return JSON.readTree(response.body());
  }

  @Test
  void searchFindsTheNearestPassageFirst() throws Exception {
    HttpResponse<String> response = send("POST", "/search", "{\"query\": \"a pet kitten\", \"k\": 3}");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = json(response);
    String queryId = body.get("queryId").asText();
    assertThat(UUID.fromString(queryId.substring(0, queryId.indexOf('.')))).isNotNull(); // <uuid>.<time>.<mac>
    assertThat(queryId).matches("[0-9a-f-]{36}\\.[0-9a-z]+\\.[A-Za-z0-9_-]{22}");
    assertThat(body.get("modelVersion").asText()).isEqualTo(embedder.info().version());
    assertThat(body.get("tookMs").asLong()).isNotNegative();
    JsonNode results = body.get("results");
    assertThat(results).hasSize(3);
    JsonNode top = results.get(0);
    assertThat(top.get("passageId").asText()).isEqualTo("cats#0");
    assertThat(top.get("docId").asText()).isEqualTo("cats");
    assertThat(top.get("title").asText()).isEqualTo("Cats");
    assertThat(top.get("text").asText()).startsWith("The domestic cat");
    assertThat(top.get("url").asText()).isEqualTo("https://example.org/cats");
    for (int i = 1; i < results.size(); i++) {
      assertThat(results.get(i).get("score").floatValue()).isLessThanOrEqualTo(results.get(i - 1).get("score")
          .floatValue());
    }
    assertThat(top.get("attributes").get("topic").asText()).isEqualTo("nature");
    assertThat(top.get("attributes").get("year").asText()).isEqualTo("1990");
    // No IEM head: the first stage's order (hybrid by default), and the score is the first stage's.
    assertThat(body.get("mode").asText()).isEqualTo("hybrid");
    assertThat(body.get("reranked").asBoolean()).isFalse();
    for (int i = 0; i < results.size(); i++) {
      JsonNode result = results.get(i);
      assertThat(result.get("firstStageRank").asInt()).isEqualTo(i + 1);
      assertThat(result.get("firstStageScore").floatValue()).isEqualTo(result.get("score").floatValue());
      assertThat(result.get("explain").isNull()).as("explain only when asked").isTrue();
      assertThat(result.has("iemScore")).isTrue();
      assertThat(result.get("iemScore").isNull()).isTrue();
    }
  }

  @Test
  void searchModesExplainTheirRanksAndFuseTheirScores() throws Exception {
    String query = "{\"query\": \"yeast flour oven\", \"k\": 5, \"explain\": true";
    JsonNode vector = json(send("POST", "/search", query + ", \"mode\": \"vector\"}"));
    JsonNode keyword = json(send("POST", "/search", query + ", \"mode\": \"keyword\"}"));
    JsonNode hybrid = json(send("POST", "/search", query + "}"));
    assertThat(vector.get("mode").asText()).isEqualTo("vector");
    assertThat(keyword.get("mode").asText()).isEqualTo("keyword");
    assertThat(hybrid.get("mode").asText()).isEqualTo("hybrid");
    // BM25 finds only the passage with those words (English stemming: "oven" in "oven.").
    assertThat(passageIds(keyword)).containsExactly("bread#0");
    assertThat(passageIds(vector)).hasSize(5).startsWith("bread#0");
    assertThat(passageIds(hybrid)).hasSize(5).startsWith("bread#0");

    Map<String, Integer> vectorRank = new HashMap<>();
    Map<String, Float> vectorScore = new HashMap<>();
    for (int i = 0; i < 5; i++) {
      JsonNode r = vector.get("results").get(i);
      vectorRank.put(r.get("passageId").asText(), i + 1);
      vectorScore.put(r.get("passageId").asText(), r.get("score").floatValue());
      assertThat(r.get("explain").get("vector").get("rank").asInt()).isEqualTo(i + 1);
      assertThat(r.get("explain").get("keyword").isNull()).isTrue();
      assertThat(r.get("explain").get("fusion").isNull()).isTrue();
    }
    JsonNode bm25 = keyword.get("results").get(0).get("explain");
    assertThat(bm25.get("keyword").get("rank").asInt()).isEqualTo(1);
    assertThat(bm25.get("keyword").get("score").floatValue()).isPositive()
        .isEqualTo(keyword.get("results").get(0).get("score").floatValue());
    assertThat(bm25.get("vector").isNull()).isTrue();
    // The default fusion: each list min-max scaled over itself, weights 1. BM25's list has one passage (scaled to 1).
    double max = vectorScore.values().stream().mapToDouble(Float::doubleValue).max().orElseThrow();
    double min = vectorScore.values().stream().mapToDouble(Float::doubleValue).min().orElseThrow();
    for (int i = 0; i < 5; i++) {
      JsonNode r = hybrid.get("results").get(i);
      JsonNode e = r.get("explain");
      String id = r.get("passageId").asText();
      // Every passage is in the vector list (5 passages, depth 100); only the bread passage in BM25's.
      assertThat(e.get("vector").get("rank").asInt()).isEqualTo(vectorRank.get(id));
      double expected = (vectorScore.get(id) - min) / (max - min);
      assertThat(e.get("fusion").asText()).startsWith("score: 1.0*(");
      if (id.equals("bread#0")) {
        assertThat(e.get("keyword").get("rank").asInt()).isEqualTo(1);
        expected += 1;
        assertThat(e.get("fusion").asText()).endsWith(" + 1.0*1 = 2.0");
      } else {
        assertThat(e.get("keyword").isNull()).isTrue();
      }
      assertThat(r.get("score").doubleValue()).isCloseTo(expected, within(1e-5));
      assertThat(e.get("firstStage").get("rank").asInt()).isEqualTo(i + 1);
      assertThat(e.get("iem").isNull()).isTrue();
    }
  }

  @Test
  void filtersApplyToEveryModeAndBadFiltersAre400() throws Exception {
    for (String mode : List.of("vector", "keyword", "hybrid")) {
      String base = "{\"query\": \"a small pet animal or a volcano\", \"k\": 5, \"mode\": \"" + mode + "\"";
      JsonNode nature = json(send("POST", "/search", base + ", \"filter\": {\"topic\": \"nature\"}}"));
      assertThat(passageIds(nature)).as(mode).isNotEmpty().isSubsetOf("cats#0", "volcano#0");
      nature.get("results").forEach(r -> assertThat(r.get("attributes").get("topic").asText()).isEqualTo("nature"));
      // year: cats 1990, stocks 1995, bread 2000, volcano 2005, chess 2010.
      JsonNode recent = json(send("POST", "/search", base
          + ", \"filter\": {\"year\": {\"gt\": 1995, \"lte\": 2005}, \"topic\": [\"nature\", \"culture\"]}}"));
      if (!mode.equals("keyword")) {
        assertThat(passageIds(recent)).as(mode).containsExactlyInAnyOrder("bread#0", "volcano#0");
      } else {
        assertThat(passageIds(recent)).as(mode).isSubsetOf("bread#0", "volcano#0").contains("volcano#0");
      }
      JsonNode dated = json(send("POST", "/search", base
          + ", \"filter\": {\"published\": {\"lt\": \"1995-06-01T00:00:00Z\"}}}"));
      assertThat(passageIds(dated)).as(mode).containsExactly("cats#0");
      JsonNode none = json(send("POST", "/search", base + ", \"filter\": {\"year\": 1900}}"));
      assertThat(passageIds(none)).as(mode).isEmpty();
    }
    for (String[] bad : new String[][] {
        {"{\"unknown\": \"x\"}", "unknown attribute 'unknown'"},
        {"{\"topic\": {\"gte\": \"a\"}}", "a range needs a long, double or date attribute"},
        {"{\"year\": \"recent\"}", "'recent' is not a long"},
        {"{\"year\": {\"gte\": 1, \"gt\": 2}}", "not both"},
        {"{\"year\": {\"after\": 1}}", "unknown range bound 'after'"},
        {"{\"year\": {}}", "a range needs gt, gte, lt or lte"},
        {"{\"topic\": []}", "at least one value"},
        {"{\"topic\": {\"gte\": [1]}}", "values must be strings, numbers or booleans"},
        {"[\"topic\"]", "must be an object"},
        {"{\"published\": \"yesterday\"}", "is not a date"}}) {
      HttpResponse<String> response = send("POST", "/search", "{\"query\": \"cat\", \"filter\": " + bad[0] + "}");
      assertThat(response.statusCode()).as(bad[0]).isEqualTo(400);
      assertThat(json(response).get("error").asText()).as(bad[0]).startsWith("filter: ").contains(bad[1]);
    }
    HttpResponse<String> mode = send("POST", "/search", "{\"query\": \"cat\", \"mode\": \"semantic\"}");
    assertThat(mode.statusCode()).isEqualTo(400);
    assertThat(json(mode).get("error").asText()).contains("vector, keyword or hybrid");
    assertThat(send("POST", "/search", "{\"query\": \"cat\", \"mode\": 1}").statusCode()).isEqualTo(400);
    assertThat(send("POST", "/search", "{\"query\": \"cat\", \"explain\": \"yes\"}").statusCode()).isEqualTo(400);
  }

  /** A component schema of /openapi.json, its references resolved against the document. */
  private static com.networknt.schema.Schema schema(JsonNode openApi, String name) throws Exception {
    com.fasterxml.jackson.databind.node.ObjectNode wrapper = JSON.createObjectNode()
        .put("$schema", "https://json-schema.org/draft/2020-12/schema")
        .put("$ref", "#/components/schemas/" + name);
    wrapper.set("components", openApi.get("components"));
    return com.networknt.schema.SchemaRegistry.withDefaultDialect(
        com.networknt.schema.SpecificationVersion.DRAFT_2020_12).getSchema(JSON.writeValueAsString(wrapper),
        com.networknt.schema.InputFormat.JSON);
  }

  static void assertValid(JsonNode openApi, String name, JsonNode value) throws Exception {
    assertThat(schema(openApi, name).validate(value)).as(name + ": " + value).isEmpty();
  }

  private static java.util.Set<String> properties(JsonNode openApi, String name) {
    java.util.Set<String> names = new java.util.TreeSet<>();
    openApi.at("/components/schemas/" + name + "/properties").fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static java.util.Set<String> components(Class<? extends Record> type) {
    java.util.Set<String> names = new java.util.TreeSet<>();
    for (var c : type.getRecordComponents()) {
      names.add(c.getName());
    }
    return names;
  }

  /** Issue 19: /openapi.json describes every route, field and error shape, and its examples run against the service. */
  @Test
  void theOpenApiDocumentDescribesTheRealRoutesAndItsExamplesValidate() throws Exception {
    HttpResponse<String> response = send("GET", "/openapi.json", null);
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode doc = json(response);
    assertThat(doc.get("openapi").asText()).isEqualTo("3.1.0");
    java.util.Set<String> documented = new java.util.TreeSet<>();
    doc.get("paths").fields().forEachRemaining(p -> p.getValue().fieldNames().forEachRemaining(
        m -> documented.add(m.toUpperCase(java.util.Locale.ROOT) + " " + p.getKey())));
    assertThat(documented).containsExactlyInAnyOrderElementsOf(HttpApi.ROUTES);
    for (String route : HttpApi.ROUTES) { // every documented route is served (a bad body is still not a 404/405)
      String[] mp = route.split(" ");
      assertThat(send(mp[0], mp[1], mp[0].equals("POST") ? "{}" : null).statusCode()).as(route)
          .isNotIn(404, 405);
    }
    // Fields: the request members the service takes, and the response records it writes.
    assertThat(properties(doc, "SearchRequest")).isEqualTo(new java.util.TreeSet<>(HttpApi.SEARCH_FIELDS));
    assertThat(properties(doc, "ClickRequest")).isEqualTo(new java.util.TreeSet<>(HttpApi.CLICK_FIELDS));
    assertThat(properties(doc, "SearchResponse")).isEqualTo(components(HttpApi.SearchResponse.class));
    assertThat(properties(doc, "Result")).isEqualTo(components(HttpApi.ResultJson.class));
    assertThat(properties(doc, "Explain")).isEqualTo(components(HttpApi.Explain.class));
    assertThat(properties(doc, "StageScore")).isEqualTo(components(HttpApi.Stage.class))
        .isEqualTo(components(io.d2search.index.FirstStageHit.StageScore.class));

    // The examples, sent as documented, answer as documented.
    JsonNode searchExample = doc.at("/paths/~1search/post/requestBody/content/application~1json/example");
    assertValid(doc, "SearchRequest", searchExample);
    JsonNode found = json(send("POST", "/search", JSON.writeValueAsString(searchExample)));
    assertValid(doc, "SearchResponse", found);
    assertThat(found.get("results")).isNotEmpty();
    com.fasterxml.jackson.databind.node.ObjectNode clickExample = doc.at(
        "/paths/~1clicks/post/requestBody/content/application~1json/example").deepCopy();
    assertValid(doc, "ClickRequest", clickExample);
    clickExample.put("queryId", found.get("queryId").asText())
        .put("passageId", found.at("/results/0/passageId").asText()).put("rank", 1);
    HttpResponse<String> accepted = send("POST", "/clicks", JSON.writeValueAsString(clickExample));
    assertThat(accepted.statusCode()).isEqualTo(202);
    assertValid(doc, "ClickAccepted", json(accepted));
    assertValid(doc, "SearchResponse", json(send("POST", "/search", "{\"query\": \"cats\", \"mode\": \"keyword\"}")));
    assertValid(doc, "Health", json(send("GET", "/health", null)));
    assertValid(doc, "Models", json(send("GET", "/models", null)));
    assertValid(doc, "Models", json(send(reranking, "GET", "/models", null)));
    // Error shapes: every 4xx is {"error": "..."}; a member the service does not take is one.
    for (String[] bad : new String[][] {{"/search", "{}"}, {"/search", "{\"query\": \"x\", \"filters\": {}}"},
        {"/clicks", "{}"}, {"/clicks", "{\"queryId\": \"q\", \"passageId\": \"a#0\", \"rank\": 1, \"clicked\": true}"},
        {"/clicks", "{\"queryId\": \"forged\", \"passageId\": \"cats#0\", \"rank\": 1}"}}) {
      HttpResponse<String> refused = send("POST", bad[0], bad[1]);
      assertThat(refused.statusCode()).as(bad[1]).isBetween(400, 499)
          .isIn(doc.at("/paths/" + bad[0].replace("/", "~1") + "/post/responses").properties().stream()
              .map(e -> Integer.parseInt(e.getKey())).toList());
      assertValid(doc, "Error", json(refused));
    }
    assertThat(json(send("POST", "/search", "{\"query\": \"x\", \"filters\": {}}")).get("error").asText())
        .contains("unknown field 'filters'");
  }

  private static List<String> passageIds(JsonNode body) {
    List<String> ids = new ArrayList<>();
    body.get("results").forEach(r -> ids.add(r.get("passageId").asText()));
    return ids;
  }

  @Test
  void searchReranksWithTheIemUnlessTheRequestSaysRerankFalse() throws Exception {
    String request = "{\"query\": \"a pet kitten\", \"k\": 5, \"mode\": \"vector\"}";
    JsonNode hnsw = json(send("POST", "/search", request));
    assertThat(passageIds(hnsw).get(0)).isEqualTo("cats#0");

    // Depth 3, reversed by the head: HNSW ranks 3, 2, 1 (k = 2 re-scores 3 candidates, k = 5 re-scores 5).
    HttpResponse<String> response = send(reranking, "POST", "/search", request.replace("5,", "2,"));
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode reranked = json(response);
    assertThat(reranked.get("reranked").asBoolean()).isTrue();
    assertThat(passageIds(reranked)).containsExactly(passageIds(hnsw).get(2), passageIds(hnsw).get(1));
    JsonNode first = reranked.get("results").get(0);
    assertThat(first.get("firstStageRank").asInt()).isEqualTo(3);
    assertThat(first.get("firstStageScore").floatValue()).isCloseTo(hnsw.get("results").get(2).get("score").floatValue(),
        within(HitAssertions.SCORE_TOLERANCE));
    // The head scores −(1 + q·p), and the HNSW score is (1 + q·p) / 2.
    assertThat(first.get("iemScore").floatValue()).isEqualTo(first.get("score").floatValue())
        .isCloseTo(-2 * first.get("firstStageScore").floatValue(), within(1e-4f));
    assertThat(passageIds(json(send(reranking, "POST", "/search", request)))).containsExactlyElementsOf(
        passageIds(hnsw).reversed());

    for (String[] off : new String[][] {{"/search?rerank=false", request},
        {"/search", request.replace("}", ", \"rerank\": false}")},
        {"/search?rerank=false", request.replace("}", ", \"rerank\": false}")}}) {
      HttpResponse<String> plain = send(reranking, "POST", off[0], off[1]);
      assertThat(plain.statusCode()).as(off[0] + " " + off[1]).isEqualTo(200);
      JsonNode body = json(plain);
      assertThat(body.get("reranked").asBoolean()).isFalse();
      assertThat(passageIds(body)).containsExactlyElementsOf(passageIds(hnsw));
      assertThat(body.get("results").get(0).get("iemScore").isNull()).isTrue();
    }
    assertThat(json(send(reranking, "POST", "/search?rerank=true", request)).get("reranked").asBoolean()).isTrue();
    // Without an IEM head, rerank=true is no error: the answer says it did not re-rank.
    assertThat(json(send("POST", "/search?rerank=true", request)).get("reranked").asBoolean()).isFalse();

    String metrics = send(reranking, "GET", "/metrics", null).body();
    assertThat(metrics).contains("d2search_search_stage_seconds_bucket{stage=\"rerank\"").contains("d2search_search_latency_seconds_bucket");
  }

  @Test
  void searchDefaultsToTenAndReturnsAtMostTheIndexSize() throws Exception {
    JsonNode body = json(send("POST", "/search", "{\"query\": \"eruption of lava\"}"));
    assertThat(body.get("results")).hasSize(CORPUS.size());
    assertThat(body.get("results").get(0).get("passageId").asText()).isEqualTo("volcano#0");
  }

  @Test
  void searchAcceptsTheLimitsExactly() throws Exception {
    assertThat(send("POST", "/search", "{\"query\": \"" + "x".repeat(SearchService.MAX_QUERY_CHARS)
        + "\", \"k\": 1000}").statusCode()).isEqualTo(200);
    assertThat(send("POST", "/search", "{\"query\": \"chess\", \"k\": 1}").statusCode()).isEqualTo(200);
  }

  @Test
  void clickIsAcceptedAndNotRecordedWhenEventsAreOff() throws Exception {
    JsonNode found = json(send("POST", "/search", "{\"query\": \"a pet cat\", \"k\": 3}"));
    String queryId = found.get("queryId").asText();
    String first = found.get("results").get(0).get("passageId").asText();
    String second = found.get("results").get(1).get("passageId").asText();
    HttpResponse<String> response = send("POST", "/clicks",
        "{\"queryId\": \"" + queryId + "\", \"passageId\": \"" + first + "\", \"rank\": 1, \"dwellMs\": 1200}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    assertThat(json(response).get("recorded").asBoolean()).isFalse();
    assertThat(send("POST", "/clicks", "{\"queryId\": \"" + queryId + "\", \"passageId\": \"" + second
        + "\", \"rank\": 2}").statusCode()).isEqualTo(202);
  }

  /**
   * Reliability issue, finding 4: a click that cannot be right is refused with a JSON 422, not fed to the loop: an
   * unknown query id, a forged one, a passage that was not shown at that rank, a rank past the results.
   */
  @Test
  void clicksThatCannotBeRightAre422() throws Exception {
    JsonNode found = json(send("POST", "/search", "{\"query\": \"a pet cat\", \"k\": 2}"));
    String queryId = found.get("queryId").asText();
    String first = found.get("results").get(0).get("passageId").asText();
    String second = found.get("results").get(1).get("passageId").asText();
    String forged = queryId.substring(0, queryId.lastIndexOf('.') + 1) + "AAAAAAAAAAAAAAAAAAAAAA";
    for (String body : List.of(
        "{\"queryId\": \"q-1\", \"passageId\": \"" + first + "\", \"rank\": 1}",
        "{\"queryId\": \"" + forged + "\", \"passageId\": \"" + first + "\", \"rank\": 1}",
        "{\"queryId\": \"" + queryId + "\", \"passageId\": \"" + second + "\", \"rank\": 1}",
        "{\"queryId\": \"" + queryId + "\", \"passageId\": \"never-shown#0\", \"rank\": 1}",
        "{\"queryId\": \"" + queryId + "\", \"passageId\": \"" + first + "\", \"rank\": 99}")) {
      HttpResponse<String> response = send("POST", "/clicks", body);
      assertThat(response.statusCode()).as(body).isEqualTo(422);
      assertThat(json(response).get("error").asText()).isNotBlank();
    }
  }

  /** Reliability issue, finding 4: with tokens configured every route but /health needs one with its right. */
  @Test
  void bearerTokensGuardEachRouteWithItsRight() throws Exception {
    String searcher = "search-token-0123456789";
    String admin = "admin-token-0123456789";
    PrometheusMeterRegistry own = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (HttpApi guarded = HttpApi.start("127.0.0.1", 0, new SearchService(index, embedder, own, null), materializer,
        own, List.of(), ApiTokens.parse("search:" + searcher + ",admin:" + admin))) {
      HttpResponse<String> anonymous = send(guarded, "POST", "/search", "{\"query\": \"cat\"}");
      assertThat(anonymous.statusCode()).isEqualTo(401);
      assertThat(anonymous.headers().firstValue("WWW-Authenticate")).contains("Bearer");
      assertThat(json(anonymous).get("error").asText()).doesNotContain(searcher);
      assertThat(sendAs(guarded, "wrong-token-0123456789", "POST", "/search", "{\"query\": \"cat\"}").statusCode())
          .isEqualTo(401);
      assertThat(sendAs(guarded, searcher, "POST", "/search", "{\"query\": \"cat\"}").statusCode()).isEqualTo(200);
      assertThat(sendAs(guarded, searcher, "GET", "/models", null).statusCode()).isEqualTo(200);
      HttpResponse<String> forbidden = sendAs(guarded, searcher, "POST", "/clicks",
          "{\"queryId\": \"q\", \"passageId\": \"cats#0\", \"rank\": 1}");
      assertThat(forbidden.statusCode()).isEqualTo(403);
      assertThat(json(forbidden).get("error").asText()).isNotBlank();
      assertThat(sendAs(guarded, searcher, "GET", "/metrics", null).statusCode()).isEqualTo(403);
      assertThat(sendAs(guarded, admin, "GET", "/metrics", null).statusCode()).isEqualTo(200);
      assertThat(send(guarded, "GET", "/health", null).statusCode()).as("probes need no token").isEqualTo(503);
    }
  }

  @Test
  void clicksBeyondTheClientsRateAre429() throws Exception {
    PrometheusMeterRegistry own = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    SearchService limited = new SearchService(index, embedder, null, SearchConfig.DEFAULTS, own, null,
        new IssuedQueries(new IssuedQueries.Policy(java.time.Duration.ofMinutes(30), 100, "", 3)));
    try (HttpApi server = HttpApi.start("127.0.0.1", 0, limited, materializer, own)) {
      JsonNode found = json(send(server, "POST", "/search", "{\"query\": \"a pet cat\", \"k\": 1}"));
      String click = "{\"queryId\": \"" + found.get("queryId").asText() + "\", \"passageId\": \""
          + found.get("results").get(0).get("passageId").asText() + "\", \"rank\": 1}";
      for (int i = 0; i < 3; i++) {
        assertThat(send(server, "POST", "/clicks", click).statusCode()).isEqualTo(202);
      }
      HttpResponse<String> fourth = send(server, "POST", "/clicks", click);
      assertThat(fourth.statusCode()).isEqualTo(429);
      assertThat(json(fourth).get("error").asText()).contains("at most 3 a minute");
    }
  }

  @Test
  void healthIsCatchingUpWhileNoBrokerAnswers() throws Exception {
    HttpResponse<String> response = send("GET", "/health", null);
    assertThat(response.statusCode()).isEqualTo(503);
    JsonNode body = json(response);
    assertThat(body.get("status").asText()).isEqualTo("catching-up");
    assertThat(body.get("lag").asLong()).isEqualTo(-1);
  }

  /** Reliability issue, finding 3: health covers the other parts it is given, and says which is behind. */
  @Test
  void healthReportsEveryComponentAndIsNotReadyWhileOneIsNot() throws Exception {
    PrometheusMeterRegistry own = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (HttpApi withIndexer = HttpApi.start("127.0.0.1", 0, new SearchService(index, embedder, own, null),
        materializer, own, java.util.List.of(() -> new ComponentHealth("indexer", false, "catching-up",
            "7 records to process", java.util.Map.of("documents", 7L, "passages", 0L))))) {
      HttpResponse<String> response = send(withIndexer, "GET", "/health", null);
      assertThat(response.statusCode()).isEqualTo(503);
      JsonNode indexer = json(response).get("components").get(0);
      assertThat(indexer.get("name").asText()).isEqualTo("indexer");
      assertThat(indexer.get("status").asText()).isEqualTo("catching-up");
      assertThat(indexer.get("ready").asBoolean()).isFalse();
      assertThat(indexer.get("detail").asText()).isEqualTo("7 records to process");
      assertThat(indexer.get("lag").get("documents").asLong()).isEqualTo(7);
    }
  }

  @Test
  void metricsArePrometheusText() throws Exception {
    send("POST", "/search", "{\"query\": \"bread\"}");
    HttpResponse<String> response = send("GET", "/metrics", null);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).get().asString().startsWith("text/plain");
    assertThat(response.body())
        .contains("d2search_search_latency_seconds_bucket")
        .contains("d2search_index_passages{topic=\"embeddings\"} " + CORPUS.size())
        .contains("d2search_index_consumer_lag");
  }

  @Test
  void modelsDescribesModelAndIndex() throws Exception {
    HttpResponse<String> response = send("GET", "/models", null);
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = json(response);
    assertThat(body.at("/model/version").asText()).isEqualTo(embedder.info().version());
    assertThat(body.at("/model/dimension").asInt()).isEqualTo(384);
    assertThat(body.at("/model/backboneId").asText()).isEqualTo(embedder.info().backboneId());
    assertThat(body.at("/index/passages").asInt()).isEqualTo(CORPUS.size());
    assertThat(body.at("/index/hnswM").asInt()).isEqualTo(16);
    assertThat(body.at("/rerank/enabled").asBoolean()).isFalse();
    assertThat(body.at("/rerank/version").asText()).isEqualTo(embedder.info().version());
    assertThat(java.time.Instant.parse(body.at("/rerank/since").asText())).isBeforeOrEqualTo(java.time.Instant.now());
    assertThat(body.at("/releases/watching").asBoolean()).as("started without a bundle store").isFalse();
    assertThat(body.at("/releases/lastRefused").isNull()).isTrue();
    assertThat(body.at("/index/attributes/year").asText()).isEqualTo("long");
    assertThat(body.at("/index/attributes/published").asText()).isEqualTo("date");
    assertThat(body.at("/retrieval/mode").asText()).isEqualTo("hybrid");
    assertThat(body.at("/retrieval/fusion").asText()).isEqualTo("score");
    assertThat(body.at("/retrieval/depth").asInt()).isEqualTo(100);

    JsonNode withIem = json(send(reranking, "GET", "/models", null));
    assertThat(withIem.at("/rerank/enabled").asBoolean()).isTrue();
    assertThat(withIem.at("/rerank/input").asText()).isEqualTo("interaction");
    assertThat(withIem.at("/rerank/branch").asText()).isEqualTo("asymmetric");
    assertThat(withIem.at("/rerank/depth").asInt()).isEqualTo(3);
    assertThat(withIem.at("/rerank/firstStageWeight").asDouble()).isZero();
  }

  @ParameterizedTest(name = "{0} {1} {2} -> {3}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      POST | /search | `{"query": "cats"`                    | 400
      POST | /search | ``                                    | 400
      POST | /search | `[1, 2]`                              | 400
      POST | /search | `"cats"`                              | 400
      POST | /search | `{}`                                  | 400
      POST | /search | `{"query": null}`                     | 400
      POST | /search | `{"query": "   "}`                    | 400
      POST | /search | `{"query": 42}`                       | 400
      POST | /search | `{"query": ["cats"]}`                 | 400
      POST | /search | `{"query": "cats", "k": 0}`           | 400
      POST | /search | `{"query": "cats", "k": -3}`          | 400
      POST | /search | `{"query": "cats", "k": 1001}`        | 400
      POST | /search | `{"query": "cats", "k": 2.5}`         | 400
      POST | /search | `{"query": "cats", "k": "10"}`        | 400
      POST | /search | `{"query": "cats", "k": true}`        | 400
      POST | /search | `{"query": "cats", "k": 99999999999}` | 400
      POST | /search?rerank=no | `{"query": "cats"}`          | 400
      POST | /search?rerank=FALSE | `{"query": "cats"}`       | 400
      POST | /search?rerank= | `{"query": "cats"}`            | 400
      POST | /search?rerank=true&rerank=false | `{"query": "cats"}` | 400
      POST | /search | `{"query": "cats", "rerank": "false"}` | 400
      POST | /search | `{"query": "cats", "rerank": 0}`      | 400
      POST | /search?rerank=true | `{"query": "cats", "rerank": false}` | 400
      POST | /clicks | `{}`                                  | 400
      POST | /clicks | `not json`                            | 400
      POST | /clicks | `{"passageId": "a#0", "rank": 1}`     | 400
      POST | /clicks | `{"queryId": "", "passageId": "a#0", "rank": 1}` | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a", "rank": 1}`  | 400
      POST | /clicks | `{"queryId": "q", "passageId": 7, "rank": 1}`    | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a#0"}`           | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a#0", "rank": 0}` | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a#0", "rank": "1"}` | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a#0", "rank": 1, "dwellMs": -1}` | 400
      POST | /clicks | `{"queryId": "q", "passageId": "a#0", "rank": 1, "dwellMs": 1.5}` | 400
      GET  | /nowhere | ``                                   | 404
      POST | /nowhere | `{}`                                 | 404
      GET  | /search | ``                                    | 405
      POST | /health | `{}`                                  | 405
      """)
  void clientErrorsAre4xxWithAJsonError(String method, String path, String body, int status) throws Exception {
    HttpResponse<String> response = send(method, path, body == null ? "" : body);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    JsonNode error = json(response);
    assertThat(error.get("error").isTextual()).as(response.body()).isTrue();
    assertThat(error.get("error").asText()).isNotBlank();
  }

  /** Reliability issue, finding 5: what Jetty refuses before routing answers JSON too, never an HTML page. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"/%2e%2e/etc/passwd", "/%00", "/search?q=LONG"})
  void errorsJettyAnswersItselfAreJson(String path) throws Exception {
    String target = path.replace("LONG", "x".repeat(20_000));
    HttpResponse<String> response = send("GET", target, null);
    assertThat(response.statusCode()).as(response.body()).isBetween(400, 499);
    JsonNode error = json(response);
    assertThat(error.get("error").asText()).isNotBlank();
  }

  @Test
  void tooLongQueryIs400() throws Exception {
    HttpResponse<String> response = send("POST", "/search",
        "{\"query\": \"" + "x".repeat(SearchService.MAX_QUERY_CHARS + 1) + "\"}");
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(json(response).get("error").asText()).contains("at most");
  }
}
