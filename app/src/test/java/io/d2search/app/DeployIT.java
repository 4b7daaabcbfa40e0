package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2search.config.Settings;
import io.d2search.embed.Embedder;
import io.d2search.embed.ExecutionProvider;
import io.d2search.ingest.Chunker;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.DockerClientFactory;

/**
 * {@code deploy/} as users run it: the images built offline by {@code deploy/images/build.sh}, {@code
 * deploy/compose.yaml} brought up on a 3-node Kafka cluster, the sample corpus ingested and searched, the indexer
 * scaled to 3 replicas (each its own state) and the query service to 2 (each its own port and index); then, under
 * continuous ingestion and searching, one broker stopped and restarted, and an indexer and a query-service replica
 * killed with SIGKILL. Afterwards every passage is in both replicas' indexes exactly once, both rank alike, and no
 * search got a 5xx. Prints the figures.
 *
 * <p>Skipped at once where no Docker engine or compose runs, unless {@code -Dd2search.test.requireContainers=true}
 * (CI with Docker), which makes that a failure.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class DeployIT {
  private static final String PROJECT = "d2search-it";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration READY = Duration.ofMinutes(4);
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir static Path dir;
  static Path root;
  static Compose compose;
  static Chunker chunker;
  static Embedder embedder;
  /** Documents ingested so far: id -> body, for the passages they must give. */
  static final Map<String, String> documents = new LinkedHashMap<>();

  @BeforeAll
  static void up() throws IOException {
    boolean required = Boolean.getBoolean("d2search.test.requireContainers");
    boolean docker = DockerClientFactory.instance().isDockerAvailable();
    List<String> command = docker ? Compose.command() : null;
    if (!required) {
      Assumptions.assumeTrue(docker, "no Docker engine");
      Assumptions.assumeTrue(command != null, "neither docker compose nor docker-compose is installed");
    }
    assertThat(docker).as("a Docker engine (required)").isTrue();
    assertThat(command).as("docker compose or docker-compose (required)").isNotNull();
    root = Path.of(System.getProperty("d2search.projectDir", "..")).toAbsolutePath().normalize();

    // Images: only what is missing is built (CI builds the base, the runtime and Kafka before the tests).
    Compose.Result build = Compose.run(List.of(root.resolve("deploy/images/build.sh").toString()), root, Map.of(),
        Duration.ofMinutes(15), true);
    System.out.print(build.output());

    Settings settings = Settings.load(root.resolve("deploy/d2search.properties"), Map.of());
    embedder = Embedder.create(Components.embedder(settings).withProvider(ExecutionProvider.CPU));
    chunker = new Chunker(embedder.tokenizer(), Components.chunker(settings));

    compose = Compose.of(command, root, PROJECT, Map.of("D2SEARCH_VERSION", System.getProperty(
        "d2search.test.imageVersion", "0.1.0-SNAPSHOT")));
    try {
      compose.close(); // a previous run's leftovers
    } catch (RuntimeException ignored) {
      // nothing to remove
    }
    long start = System.nanoTime();
    compose.compose(Duration.ofMinutes(5), "up", "-d", "kafka-1", "kafka-2", "kafka-3", "indexer", "query-service");
    await("the query service ready", READY, () -> health(port("query-service", 1)).path("status").asText()
        .equals("ready"));
    System.out.printf("compose up: 3 brokers, indexer, query service ready in %d s%n",
        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
  }

  @AfterAll
  static void down() {
    if (compose != null) {
      try {
        System.out.println(compose.compose(Duration.ofMinutes(1), "ps"));
      } finally {
        compose.close();
      }
    }
    if (embedder != null) {
      embedder.close();
    }
  }

  @Test
  @Order(1)
  void ingestsTheSampleCorpusAndAnswersASearch() throws Exception {
    Path sample = root.resolve("app/src/main/resources/sample/documents.jsonl");
    for (String line : Files.readAllLines(sample, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        JsonNode doc = JSON.readTree(line);
        documents.put(doc.get("id").asText(), doc.get("body").asText());
      }
    }
    long start = System.nanoTime();
    ingest(sample);
    int expected = expectedPassages();
    int port = port("query-service", 1);
    await("all " + expected + " passages searchable", READY, () -> passages(port) == expected);
    System.out.printf("sample corpus: %d documents, %d passages searchable %d s after ingest started%n",
        documents.size(), expected, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));

    JsonNode response = search(port, "how long can cooked rice stay out before it is unsafe").body();
    assertThat(response.path("results").size()).isEqualTo(10);
    assertThat(response.path("results").get(0).path("docId").asText()).isEqualTo("kb-001-storing-cooked-rice");
  }

  @Test
  @Order(2)
  void scalesTheIndexerToThreeAndTheQueryServiceToTwo() throws Exception {
    compose.compose(Duration.ofMinutes(5), "up", "-d", "--no-recreate", "--scale", "indexer=3", "--scale",
        "query-service=2", "indexer", "query-service");
    List<String> indexers = compose.containers("indexer");
    assertThat(indexers).hasSize(3);
    Set<String> stateVolumes = new HashSet<>();
    for (String id : indexers) {
      stateVolumes.add(compose.docker("inspect", "-f",
          "{{range .Mounts}}{{if eq .Destination \"/var/lib/d2search\"}}{{.Name}}{{end}}{{end}}", id).strip());
    }
    assertThat(stateVolumes).as("each indexer replica its own state volume").hasSize(3).doesNotContain("");
    int expected = expectedPassages();
    List<Integer> ports = List.of(port("query-service", 1), port("query-service", 2));
    assertThat(Set.copyOf(ports)).as("distinct host ports").hasSize(2);
    await("the second query service rebuilt its index", READY, () -> passages(ports.get(1)) == expected);

    // New documents after scaling reach both replicas.
    List<String> ids = addDocuments("scaled", 6);
    ingest(corpus("scaled", ids));
    int now = expectedPassages();
    for (int port : ports) {
      await("replica on " + port + " has the new documents", READY, () -> passages(port) == now);
    }
    System.out.printf("scaled: indexer x3 (%d state volumes), query service x2 on ports %s, %d passages each%n",
        stateVolumes.size(), ports, now);
  }

  @Test
  @Order(3)
  void survivesABrokerStopAndKilledReplicasUnderLoad() throws Exception {
    String broker = compose.container("kafka-2", 1);
    String indexer = compose.container("indexer", 1);
    String killedService = compose.container("query-service", 2);
    int survivor = port("query-service", 1);
    Searcher searcher = new Searcher(survivor, port("query-service", 2));
    Thread load = Thread.ofPlatform().name("search-load").start(searcher);
    long start = System.nanoTime();
    int batches = 6;
    List<String> ingested = new ArrayList<>();
    try {
      for (int b = 0; b < batches; b++) {
        List<String> ids = addDocuments("load" + b, 20);
        ingested.addAll(ids);
        switch (b) {
          case 1 -> {
            compose.docker("stop", broker);
            System.out.println("kafka-2 stopped");
          }
          case 2 -> {
            compose.docker("kill", "-s", "KILL", indexer);
            searcher.killed(true);
            compose.docker("kill", "-s", "KILL", killedService);
            System.out.println("an indexer and a query-service replica killed (SIGKILL)");
          }
          case 4 -> {
            compose.docker("start", broker);
            compose.docker("start", indexer);
            compose.docker("start", killedService);
            System.out.println("kafka-2, the indexer and the query service started again");
          }
          default -> { }
        }
        ingest(corpus("load" + b, ids));
      }
      long restarted = System.nanoTime();
      int expected = expectedPassages();
      // A restarted replica takes the first free port of compose's range again, not necessarily its old one.
      await("the restarted replica is ready", READY, () -> health(port("query-service", 2)).path("status")
          .asText().equals("ready"));
      int restartedPort = port("query-service", 2);
      searcher.restartedOn(restartedPort);
      List<Integer> ports = List.of(survivor, restartedPort);
      for (int port : ports) {
        await("replica on " + port + " caught up", Duration.ofMinutes(5), () -> passages(port) == expected);
      }
      long recovered = System.nanoTime();
      searcher.stop();
      load.join();

      // Exactly once: both replicas hold every passage, and rank alike (the same passages first, from the vectors).
      int lost = 0;
      int duplicated = 0;
      for (int port : ports) {
        int n = passages(port);
        lost = Math.max(lost, Math.max(0, expected - n));
        duplicated = Math.max(duplicated, Math.max(0, n - expected));
      }
      for (String id : ingested.subList(0, 10)) {
        String query = documents.get(id);
        List<String> a = top(ports.get(0), query, 5);
        List<String> b = top(ports.get(1), query, 5);
        assertThat(a).as("replicas rank alike").isEqualTo(b);
        assertThat(a.get(0)).startsWith(id + "#");
      }
      System.out.printf("failures under load: %d documents (%d passages in all) in %d batches; lost %d, duplicated "
              + "%d; caught up %d s after the restarts (%d s in all); searches %d, 5xx %d, failed on the killed "
              + "replica while it was down %d, other errors %d%n",
          ingested.size(), expected, batches, lost, duplicated,
          TimeUnit.NANOSECONDS.toSeconds(recovered - restarted), TimeUnit.NANOSECONDS.toSeconds(recovered - start),
          searcher.total.sum(), searcher.serverErrors.sum(), searcher.failedWhileDown.sum(), searcher.errors.sum());
      assertThat(lost).isZero();
      assertThat(duplicated).isZero();
      assertThat(searcher.serverErrors.sum()).as("5xx").isZero();
      assertThat(searcher.errors.sum()).as("failed searches outside the killed replica's downtime").isZero();
    } finally {
      searcher.stop();
      load.join();
    }
  }

  /**
   * Searches the surviving replica and the one that gets killed, in turn, ~10 per second, counting outcomes. While
   * the killed replica is down (until it is ready again, on whatever port it came back), its failures are its own.
   */
  static final class Searcher implements Runnable {
    final int survivor;
    volatile int other;
    volatile boolean down;
    final AtomicBoolean stopped = new AtomicBoolean();
    final LongAdder total = new LongAdder();
    final LongAdder serverErrors = new LongAdder();
    final LongAdder failedWhileDown = new LongAdder();
    final LongAdder errors = new LongAdder();

    Searcher(int survivor, int other) {
      this.survivor = survivor;
      this.other = other;
    }

    void killed(boolean isDown) {
      down = isDown;
    }

    void restartedOn(int port) {
      other = port;
      down = false;
    }

    void stop() {
      stopped.set(true);
    }

    @Override
    public void run() {
      String[] queries = {"cooked rice", "sourdough starter", "replication of a log", "a question about storage"};
      for (int i = 0; !stopped.get(); i++) {
        boolean toOther = i % 2 == 1;
        boolean wasDown = toOther && down;
        int port = toOther ? other : survivor;
        total.increment();
        try {
          int status = search(port, queries[i % queries.length]).status();
          if (status != 200 && wasDown) {
            failedWhileDown.increment();
          } else if (status >= 500) {
            serverErrors.increment();
          } else if (status != 200) {
            errors.increment();
          }
        } catch (IOException e) {
          if (wasDown || (toOther && down)) {
            failedWhileDown.increment();
          } else {
            errors.increment();
          }
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  record Response(int status, JsonNode body) {}

  static Response search(int port, String query) throws IOException {
    ObjectNode body = JSON.createObjectNode().put("query", query).put("k", 10);
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/search"))
        .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    try {
      HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
      return new Response(response.statusCode(), JSON.readTree(response.body()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** The passage ids of the top {@code n} results. */
  static List<String> top(int port, String query, int n) throws IOException {
    List<String> ids = new ArrayList<>();
    search(port, query).body().path("results").forEach(r -> ids.add(r.path("passageId").asText()));
    return ids.subList(0, Math.min(n, ids.size()));
  }

  static JsonNode health(int port) {
    if (port < 0) {
      return JSON.createObjectNode().put("status", "not running");
    }
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health"))
        .timeout(Duration.ofSeconds(5)).build();
    try {
      return JSON.readTree(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    } catch (IOException e) {
      return JSON.createObjectNode().put("status", "unreachable");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static int passages(int port) {
    return health(port).path("passages").asInt(-1);
  }

  /** The host port of a service's replica (1-based), from compose. */
  static int port(String service, int index) {
    String mapping = compose.compose(Duration.ofSeconds(60), "port", "--index=" + index, service, "8080").strip();
    return mapping.isEmpty() ? -1 : Integer.parseInt(mapping.substring(mapping.lastIndexOf(':') + 1));
  }

  /** Passages the documents so far must give: the indexer's chunker over each body. */
  static int expectedPassages() {
    return documents.values().stream().mapToInt(body -> chunker.chunk(body).size()).sum();
  }

  static List<String> addDocuments(String prefix, int n) {
    List<String> ids = IntStream.range(0, n).mapToObj(i -> "deploy-" + prefix + "-" + i).toList();
    for (String id : ids) {
      documents.put(id, "Operations note " + id + " about keeping a " + prefix + " cluster healthy. Replica " + id
          + " reports its lag, and an operator reads the lag of " + id + " before every restart.");
    }
    return ids;
  }

  static Path corpus(String name, List<String> ids) throws IOException {
    Path file = dir.resolve(name + ".jsonl");
    List<String> lines = new ArrayList<>();
    for (String id : ids) {
      lines.add(JSON.createObjectNode().put("id", id).put("title", "Note " + id).put("body", documents.get(id))
          .toString());
    }
    Files.write(file, lines, StandardCharsets.UTF_8);
    return file;
  }

  /** A one-off ingest container (compose's tools profile) upserting the documents of {@code corpus}. */
  static void ingest(Path corpus) {
    compose.compose(Map.of("CORPUS_FILE", corpus.toAbsolutePath().toString()), Duration.ofMinutes(3),
        "run", "--rm", "--no-deps", "ingest");
  }

  static void await(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        // What the services said is the first thing to read when a wait fails.
        System.out.println(compose.compose(Duration.ofMinutes(1), "logs", "--no-color", "--tail", "40"));
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
