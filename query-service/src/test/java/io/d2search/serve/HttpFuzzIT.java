package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.broker.TestKafka;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.schemas.Topics;
import io.d2search.testkit.Randomized;
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
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reliability issue, fault injection: concurrent clients send a running query service (real broker, real index)
 * valid, mutated and garbage requests, each client on its own keep-alive connections. Never a 5xx; every request
 * answered (a refusal that closes the connection says so, or the client's next request would go unanswered); every
 * client error is JSON {@code {"error": ...}}; valid searches keep answering. Seeded ({@code -Dtests.seed}); the
 * figures are logged.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class HttpFuzzIT {
  private static final Logger log = LoggerFactory.getLogger(HttpFuzzIT.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] PATHS = {"/search", "/clicks", "/health", "/metrics", "/models", "/openapi.json", "/",
      "/assets/page.js", "/%2e%2e/etc/passwd", "/%00", "/search/", "//search", "/SEARCH", "/nope", "/search?rerank=maybe",
      "/search?rerank=true&rerank=false", "/assets/../openapi.json"};
  private static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static Embedder embedder;

  @BeforeAll
  static void start() throws Exception {
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(new NewTopic(Topics.EMBEDDINGS, 1, kafka.replicationFactor()), new NewTopic(Topics.IMPRESSIONS, 1, kafka.replicationFactor()),
        new NewTopic(Topics.CLICKS, 1, kafka.replicationFactor()));
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
    TestCorpus.produce(kafka.bootstrapServers(), embedder, id -> Map.of("topic", id));
  }

  @AfterAll
  static void stop() {
    if (embedder != null) {
      embedder.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  /** A body: valid, a valid one mutated, JSON of the wrong shape, or bytes that are not JSON at all. */
  private static String body(Random r, List<String> queryIds) {
    String valid = switch (r.nextInt(3)) {
      case 0 -> "{\"query\": \"a pet kitten\", \"k\": 3}";
      case 1 -> "{\"query\": \"bread\", \"mode\": \"keyword\", \"filter\": {\"topic\": [\"bread\", \"cats\"]}, "
          + "\"explain\": true}";
      default -> "{\"queryId\": \"" + (queryIds.isEmpty() ? "q" : queryIds.get(r.nextInt(queryIds.size())))
          + "\", \"passageId\": \"cats#0\", \"rank\": " + (1 + r.nextInt(4)) + ", \"dwellMs\": 100}";
    };
    return switch (r.nextInt(10)) {
      case 0, 1, 2 -> valid;
      case 3 -> valid.substring(0, r.nextInt(valid.length())); // cut anywhere
      case 4 -> { // one character replaced by another
        char[] c = valid.toCharArray();
        String swaps = "{}[]\":,09a\\ \u0000\u00e9\uffff";
        c[r.nextInt(c.length)] = swaps.charAt(r.nextInt(swaps.length()));
        yield new String(c);
      }
      case 5 -> valid.replace("3", String.valueOf(r.nextLong())).replace("\"keyword\"", "\"" + "x".repeat(r.nextInt(3000)) + "\"");
      case 6 -> "[".repeat(1 + r.nextInt(3000)) + "]".repeat(r.nextInt(3000));
      case 7 -> "{\"query\": " + JSON.valueToTree(unicode(r, r.nextInt(5000))) + "}";
      case 8 -> "{\"query\": \"x\", \"filter\": {\"" + "topic" + "\": {\"gte\": [\"a\"], \"lt\": {\"x\": 1}}}, \"k\": \"5\"}";
      default -> unicode(r, r.nextInt(200));
    };
  }

  /** Any code points: ASCII, controls, accents, CJK, emoji; never a lone surrogate (the client cannot send one). */
  private static String unicode(Random r, int length) {
    StringBuilder s = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      int cp = switch (r.nextInt(4)) {
        case 0 -> r.nextInt(0x80);
        case 1 -> 0x80 + r.nextInt(0x700);
        case 2 -> 0x4E00 + r.nextInt(0x5000);
        default -> 0x1F300 + r.nextInt(0x300);
      };
      s.appendCodePoint(cp);
    }
    return s.toString();
  }

  @Test
  void concurrentClientsWithGarbageGetNoServerError(TestInfo test) throws Exception {
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrapServers(), dir.resolve("index"))
        .withHttp("127.0.0.1", 0);
    try (QueryService service = QueryService.start(config, embedder,
        new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
      assertThat(service.materializer().awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
      long seed = Randomized.random(test.getDisplayName()).nextLong();
      int clients = 8;
      int perClient = Randomized.atLeast(250);
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      List<String> queryIds = new java.util.concurrent.CopyOnWriteArrayList<>();
      Map<Integer, AtomicInteger> byStatus = new ConcurrentHashMap<>();
      ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(clients);
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        Random r = new Random(seed + c);
        done.add(pool.submit(() -> {
          String previous = "none";
          HttpClient own = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
          for (int i = 0; i < perClient; i++) {
            String method = r.nextInt(3) == 0 ? METHODS[r.nextInt(METHODS.length)] : (r.nextBoolean() ? "POST" : "GET");
            String path = PATHS[r.nextInt(PATHS.length)];
            String body = method.equals("GET") || method.equals("HEAD") ? null : body(r, queryIds);
            try {
              HttpRequest.Builder req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + service.port() + path))
                  .timeout(Duration.ofSeconds(30));
              if (r.nextInt(4) > 0) {
                req.header("Content-Type", r.nextInt(5) == 0 ? "text/plain" : "application/json");
              }
              req.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                  : HttpRequest.BodyPublishers.ofString(body));
              HttpResponse<String> res = own.send(req.build(), HttpResponse.BodyHandlers.ofString());
              byStatus.computeIfAbsent(res.statusCode(), s -> new AtomicInteger()).incrementAndGet();
              if (res.statusCode() >= 500 && !(path.equals("/health") && res.statusCode() == 503)) {
                problems.add(res.statusCode() + " for " + method + " " + path + " " + body);
              } else if (res.statusCode() >= 400 && !method.equals("HEAD") && !res.body().isEmpty()) {
                JsonNode error = JSON.readTree(res.body());
                if (error == null || !error.hasNonNull("error") && !path.equals("/health")) {
                  problems.add("not a JSON error: " + res.statusCode() + " " + res.body());
                }
              }
              if (res.statusCode() == 200 && path.startsWith("/search") && method.equals("POST")) {
                queryIds.add(JSON.readTree(res.body()).get("queryId").asText());
              }
            } catch (IllegalArgumentException e) {
              // The client refused to build the request (e.g. a method it will not send): not the server's doing.
            } catch (Exception e) {
              problems.add("no answer: " + method + " " + path + ": " + e + " (after " + previous + ")");
            }
            previous = method + " " + path + " " + (body == null ? "" : body.length() > 80 ? body.substring(0, 80)
                + "... (" + body.length() + " chars)" : body);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      pool.shutdown();
      log.info("HTTP fuzz (seed {}): {} clients x {} requests, by status {}", seed, clients, perClient, byStatus);
      assertThat(problems).as("requests that got a 5xx, a non-JSON error or no answer").isEmpty();
      assertThat(byStatus.get(200).get()).as("valid requests keep being served").isPositive();
      assertThat(queryIds).isNotEmpty();
      // After the storm, a plain search answers as before.
      HttpResponse<String> after = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + service.port()
          + "/search")).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"query\": \"a pet kitten\", \"k\": 1}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(JSON.readTree(after.body()).at("/results/0/passageId").asText()).isEqualTo("cats#0");
    }
  }
}
