package io.d2search.teach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP teacher against a real local server (JDK {@code HttpServer} on 127.0.0.1, an ephemeral port) that
 * speaks the OpenAI completions protocol with log-probabilities: success, spellings and a missing side, both
 * response shapes, retry after 503, timeout, malformed responses, a non-retryable status, the concurrency limit.
 */
class LlmHttpTeacherTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String QUERY = "Does vitamin D prevent fractures?";

  /** What the fake server does with one parsed request; returns status and body. */
  interface Behaviour {
    Reply handle(JsonNode request, int callNumber) throws Exception;
  }

  record Reply(int status, String body) {}

  private HttpServer server;
  private ExecutorService serverThreads;
  private volatile Behaviour behaviour;
  private final AtomicInteger calls = new AtomicInteger();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private final List<JsonNode> requests = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    serverThreads = Executors.newFixedThreadPool(16);
    server.setExecutor(serverThreads);
    server.createContext("/v1/completions", this::serve);
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
    serverThreads.shutdownNow();
  }

  private void serve(HttpExchange exchange) throws IOException {
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
    try (exchange) {
      Reply reply;
      try {
        JsonNode request = JSON.readTree(exchange.getRequestBody());
        requests.add(request);
        reply = behaviour.handle(request, calls.incrementAndGet());
      } catch (Exception e) {
        reply = new Reply(500, "test server: " + e);
      }
      byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
      if (body.length > 0) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    } finally {
      inFlight.decrementAndGet();
    }
  }

  private LlmHttpConfig config() {
    URI base = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    return LlmHttpConfig.of(base, "test-llm").withRetries(2, 10, 50).withRequestTimeoutMs(5_000);
  }

  /** A vLLM-style completions response whose first token has the given alternatives. */
  static String legacy(Map<String, Double> top) {
    ObjectNode root = JSON.createObjectNode();
    root.put("id", "cmpl-1").put("object", "text_completion").put("model", "test-llm");
    ObjectNode choice = root.putArray("choices").addObject();
    String best = top.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    choice.put("index", 0).put("text", best).put("finish_reason", "length");
    ObjectNode logprobs = choice.putObject("logprobs");
    logprobs.putArray("tokens").add(best);
    logprobs.putArray("token_logprobs").add(top.get(best));
    ObjectNode alternatives = logprobs.putArray("top_logprobs").addObject();
    top.forEach(alternatives::put);
    logprobs.putArray("text_offset").add(0);
    return root.toString();
  }

  /** Yes-leaning for passages about vitamin D, no-leaning otherwise. */
  static Reply yesNo(JsonNode request) {
    boolean about = request.path("prompt").asText().contains("Passage: Vitamin D");
    Map<String, Double> top = new LinkedHashMap<>();
    top.put(" yes", about ? -0.1 : -3.0);
    top.put(" no", about ? -2.5 : -0.05);
    top.put(" maybe", -4.0);
    return new Reply(200, legacy(top));
  }

  @Test
  void scoresAreTheYesNoSoftmaxOfTheFirstTokensLogprobs() {
    behaviour = (req, n) -> yesNo(req);
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      double[] s = teacher.score(QUERY, List.of("Vitamin D lowers fracture risk.", "Cats sleep a lot."));
      assertThat(s[0]).isCloseTo(1 / (1 + Math.exp(-(-0.1 + 2.5))), within(1e-9));
      assertThat(s[1]).isCloseTo(1 / (1 + Math.exp(-(-3.0 + 0.05))), within(1e-9));
      assertThat(teacher.score(QUERY, List.of())).isEmpty();
      assertThat(teacher.id()).startsWith("llm-http:test-llm:prompt-").contains("T=1.0").contains("top=20");
    }
    JsonNode req = requests.get(0);
    assertThat(req.path("model").asText()).isEqualTo("test-llm");
    assertThat(req.path("max_tokens").asInt()).isEqualTo(1);
    assertThat(req.path("logprobs").asInt()).isEqualTo(20);
    assertThat(req.path("temperature").asDouble()).isZero();
    assertThat(requests).extracting(r -> r.path("prompt").asText()).contains(
        "Passage: Vitamin D lowers fracture risk.\nQuestion: " + QUERY
            + "\nDoes the passage answer the question? Answer yes or no.\nAnswer:");
  }

  @Test
  void temperatureDividesTheLogitGap() {
    behaviour = (req, n) -> yesNo(req);
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config().withTemperature(2.0))) {
      double s = teacher.score(QUERY, List.of("Vitamin D lowers fracture risk."))[0];
      assertThat(s).isCloseTo(1 / (1 + Math.exp(-(2.4 / 2.0))), within(1e-9));
    }
  }

  @Test
  void spellingsAreSummedAndAMissingSideIsTheMinimumMinusTheMargin() {
    Map<String, Double> top = new LinkedHashMap<>();
    top.put(" Yes", -0.5);
    top.put("yes", -1.2);
    top.put(" maybe", -2.0);
    behaviour = (req, n) -> new Reply(200, legacy(top));
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      double zYes = Math.log(Math.exp(-0.5) + Math.exp(-1.2));
      double zNo = -2.0 - 1.0;
      assertThat(teacher.score(QUERY, List.of("p"))[0]).isCloseTo(1 / (1 + Math.exp(-(zYes - zNo))), within(1e-9));
    }
    Map<String, Double> neither = Map.of(" maybe", -0.3, " perhaps", -1.0);
    behaviour = (req, n) -> new Reply(200, legacy(neither));
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThat(teacher.score(QUERY, List.of("p"))[0]).isEqualTo(0.5);
      assertThat(teacher.bothMissing()).isEqualTo(1);
    }
  }

  @Test
  void theChatStyleLogprobsShapeOfLlamaCppIsUnderstood() {
    behaviour = (req, n) -> {
      ObjectNode root = JSON.createObjectNode();
      ObjectNode choice = root.putArray("choices").addObject();
      choice.put("text", " No");
      ObjectNode first = choice.putObject("logprobs").putArray("content").addObject();
      first.put("token", " No").put("logprob", -0.2);
      ArrayNode alts = first.putArray("top_logprobs");
      alts.addObject().put("token", " No").put("logprob", -0.2);
      alts.addObject().put("token", " Yes").put("logprob", -1.9);
      return new Reply(200, root.toString());
    };
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThat(teacher.score(QUERY, List.of("p"))[0]).isCloseTo(1 / (1 + Math.exp(-(-1.9 + 0.2))), within(1e-9));
    }
  }

  @Test
  void a503IsRetriedWithBackoff() {
    behaviour = (req, n) -> n == 1 ? new Reply(503, "{\"error\":\"overloaded\"}") : yesNo(req);
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      double s = teacher.score(QUERY, List.of("Vitamin D lowers fracture risk."))[0];
      assertThat(s).isGreaterThan(0.9);
      assertThat(teacher.requests()).isEqualTo(2);
      assertThat(teacher.retries()).isEqualTo(1);
    }
  }

  @Test
  void retriesRunOutWithTheStatusAndBodyInTheMessage() {
    behaviour = (req, n) -> new Reply(503, "{\"error\":\"model is loading\"}");
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThatThrownBy(() -> teacher.score(QUERY, List.of("p")))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("after 3 attempts").hasMessageContaining("HTTP 503")
          .hasMessageContaining("model is loading");
      assertThat(calls.get()).isEqualTo(3);
    }
  }

  @Test
  void aClientErrorIsNotRetried() {
    behaviour = (req, n) -> new Reply(400, "{\"error\":{\"message\":\"logprobs must be <= 5\"}}");
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThatThrownBy(() -> teacher.score(QUERY, List.of("p")))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("HTTP 400").hasMessageContaining("logprobs must be <= 5");
      assertThat(calls.get()).isEqualTo(1);
    }
  }

  @Test
  void aSlowServerTimesOut() {
    behaviour = (req, n) -> {
      Thread.sleep(3_000);
      return yesNo(req);
    };
    long start = System.nanoTime();
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config().withRequestTimeoutMs(200).withRetries(1, 10, 10))) {
      assertThatThrownBy(() -> teacher.score(QUERY, List.of("p")))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("timed out after 200 ms").hasMessageContaining("after 2 attempts");
    }
    assertThat((System.nanoTime() - start) / 1e9).isLessThan(2.5);
  }

  @Test
  void aTimeoutIsRetriedAndCanSucceed() {
    behaviour = (req, n) -> {
      if (n == 1) {
        Thread.sleep(1_500);
      }
      return yesNo(req);
    };
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config().withRequestTimeoutMs(300))) {
      assertThat(teacher.score(QUERY, List.of("Vitamin D lowers fracture risk."))[0]).isGreaterThan(0.9);
      assertThat(teacher.retries()).isEqualTo(1);
    }
  }

  @Test
  void malformedResponsesFailAtOnceWithAnExcerpt() {
    behaviour = (req, n) -> new Reply(200, "<html>gateway says hi</html>");
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThatThrownBy(() -> teacher.score(QUERY, List.of("p")))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("malformed").hasMessageContaining("not JSON")
          .hasMessageContaining("<html>gateway says hi</html>");
    }
    assertThat(calls.get()).isEqualTo(1);
    behaviour = (req, n) -> new Reply(200, "{\"choices\":[{\"text\":\" yes\"}]}");
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config())) {
      assertThatThrownBy(() -> teacher.score(QUERY, List.of("p")))
          .isInstanceOf(TeacherException.class).hasMessageContaining("logprobs is missing");
    }
  }

  @Test
  void passagesGoInParallelWithinTheConcurrencyLimit() {
    behaviour = (req, n) -> {
      Thread.sleep(100);
      return yesNo(req);
    };
    List<String> passages = java.util.stream.IntStream.range(0, 8)
        .mapToObj(i -> i % 2 == 0 ? "Vitamin D passage " + i : "other passage " + i).toList();
    try (LlmHttpTeacher teacher = new LlmHttpTeacher(config().withMaxConcurrency(3))) {
      double[] s = teacher.score(QUERY, passages);
      for (int i = 0; i < s.length; i++) {
        assertThat(s[i] > 0.5).as("passage %d in order", i).isEqualTo(i % 2 == 0);
      }
    }
    assertThat(maxInFlight.get()).isBetween(2, 3);
  }

  @Test
  void configValidatesThePrompt() {
    URI base = URI.create("http://127.0.0.1:1");
    assertThatThrownBy(() -> LlmHttpConfig.of(base, "m").withPromptTemplate("Q: {query}"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("{passage}");
    LlmHttpConfig c = LlmHttpConfig.of(base, "m").withPromptTemplate("Q: {query} P: {passage}");
    assertThat(c.prompt("has {passage} in it", "p{query}")).isEqualTo("Q: has {passage} in it P: p{query}");
  }
}
