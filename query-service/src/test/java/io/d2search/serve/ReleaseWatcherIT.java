package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.broker.TestKafka;
import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.events.Impression;
import io.d2search.events.ModelRelease;
import io.d2search.events.RankedPassage;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHeads;
import io.d2search.schemas.Topics;
import io.d2search.testkit.Randomized;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hot swap of the re-ranker against a real broker ({@link TestKafka}), the real model and real bundle files: a
 * query service serves version 0 of the bundled model while two threads search over HTTP; a HEADS release (the
 * same backbone and PMA, an IEM head that reverses the vector order) is published on {@code model-releases} and
 * adopted between two searches; a restart catches up with the topic before it is ready; then a release whose sha256
 * is not its bundle's, one whose weights were corrupted after writing, and a FULL bundle labelled HEADS are refused,
 * and a FULL release waits for its vectors (which no indexer fills here), while serving goes on with the adopted
 * version.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class ReleaseWatcherIT {
  private static final Logger log = LoggerFactory.getLogger(ReleaseWatcherIT.class);
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final String QUERY = "a pet kitten";
  private static final int K = 5; // the whole corpus: the reversing head turns the whole list around

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static DirectoryBundleStore store;
  private static ModelBundle zero;
  private static Embedder embedder;

  @BeforeAll
  static void start() throws Exception {
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(
        new NewTopic(Topics.EMBEDDINGS, 1, kafka.replicationFactor()).configs(Map.of("cleanup.policy", "compact")),
        new NewTopic(Topics.IMPRESSIONS, 1, kafka.replicationFactor()),
        new NewTopic(Topics.CLICKS, 1, kafka.replicationFactor()),
        new NewTopic(Topics.MODEL_RELEASES, 1, kafka.replicationFactor()).configs(Map.of("cleanup.policy", "compact")));
    store = new DirectoryBundleStore(dir.resolve("bundles"));
    zero = ModelBundle.versionZero(store.root(), BackboneSource.MINILM_L6_V2, 256);
    embedder = zero.embedder(new EmbedderConfig("ignored", BackboneSource.MINILM_L6_V2, 256, 16, 2,
        ExecutionProvider.CPU));
    TestCorpus.produce(kafka.bootstrapServers(), embedder, id -> Map.of());
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

  @Test
  void adoptsHeadsReleasesWithoutDowntimeAndRefusesWhatItCannotServe() throws Exception {
    int d = zero.manifest().dimension();
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrapServers(), dir.resolve("index"))
        .withHttp("127.0.0.1", 0).withReleases(true)
        // Canary share 0: a canary is followed (shown, withdrawn) but interleaves nothing, so each answer is one model's.
        .withSearch(SearchConfig.DEFAULTS.withMode(RetrievalMode.VECTOR).withRerankFirstStageWeight(0)
            .withCanaryShare(0));
    List<String> firstStage;
    String beforeId;
    ModelBundle one = TestBundles.heads(store.dirOf("1"), zero, "1", IemHeads.negatedSimilarity(d));

    // Step 1: version 0 serves (no release yet): the vector order.
    try (QueryService service = start(config)) {
      awaitReady(service);
      JsonNode before = search(service);
      assertThat(before.get("modelVersion").asText()).isEqualTo("0");
      assertThat(before.get("reranked").asBoolean()).isFalse();
      firstStage = ids(before);
      beforeId = before.get("queryId").asText();
      assertThat(firstStage).hasSize(K).first().isEqualTo("cats#0");
      JsonNode models = json(get(service, "/models"));
      assertThat(models.at("/rerank/version").asText()).isEqualTo("0");
      assertThat(models.at("/releases/watching").asBoolean()).isTrue();
      assertThat(models.at("/releases/caughtUp").asBoolean()).isTrue();

      // Step 2: release 1 (HEADS) while two threads search: every answer is whole and of one version.
      try (Searchers searchers = new Searchers(service, 2)) {
        await(() -> searchers.answered("0") >= 10);
        long published = System.nanoTime();
        publish(TestBundles.release(one, ReleaseKind.HEADS));
        await(() -> searchers.answered("1") >= 10);
        log.info("Release 1 served within {} ms of publishing",
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - published));
        searchers.check(firstStage);
      }
      JsonNode after = search(service);
      assertThat(after.get("modelVersion").asText()).isEqualTo("1");
      assertThat(after.get("reranked").asBoolean()).isTrue();
      assertThat(ids(after)).containsExactlyElementsOf(firstStage.reversed());
      // The impressions name the version that ranked each search, in the order it showed.
      Map<String, Impression> impressions = impressions(Set.of(beforeId, after.get("queryId").asText()));
      assertThat(impressions.get(beforeId).getModelVersion()).isEqualTo("0");
      assertThat(impressions.get(beforeId).getReranked()).isFalse();
      Impression shown = impressions.get(after.get("queryId").asText());
      assertThat(shown.getModelVersion()).isEqualTo("1");
      assertThat(shown.getReranked()).isTrue();
      assertThat(shown.getResults().stream().map(RankedPassage::getPassageId).toList())
          .containsExactlyElementsOf(firstStage.reversed());
      models = json(get(service, "/models"));
      assertThat(models.at("/rerank/version").asText()).isEqualTo("1");
      assertThat(models.at("/rerank/enabled").asBoolean()).isTrue();
      assertThat(models.at("/releases/adopted").asLong()).isEqualTo(1);
      assertThat(models.at("/model/version").asText()).as("the embedding model stays").isEqualTo("0");
      assertThat(get(service, "/metrics").body())
          .contains("d2search_model_releases_total{outcome=\"adopted\"} 1.0")
          .contains("d2search_model_releases_total{outcome=\"refused\"} 0.0")
          .contains("d2search_model_swap_seconds_count 1");
    }

    // Step 3: a restart (same index, version 0's embedder) is ready only once it serves the current release, 1.
    try (QueryService service = start(config)) {
      awaitReady(service);
      assertThat(json(get(service, "/models")).at("/rerank/version").asText()).isEqualTo("1");
      assertThat(search(service).get("modelVersion").asText()).isEqualTo("1");
      assertThat(service.index().size()).isEqualTo(K);

      // Step 4: releases it must refuse, while searches go on with version 1.
      ReleaseWatcher watcher = service.releases().orElseThrow();
      try (Searchers searchers = new Searchers(service, 2)) {
        ModelBundle two = TestBundles.heads(store.dirOf("2"), zero, "2",
            IemHeads.random(Randomized.random("ReleaseWatcherIT"), IemHead.Input.CONCAT, d, 8));
        String claimed = "ab".repeat(32);
        publish(TestBundles.withSha256(TestBundles.release(two, ReleaseKind.HEADS), claimed));
        await(() -> watcher.status().refused() == 1);
        assertThat(watcher.status().lastRefused().version()).isEqualTo("2");
        assertThat(watcher.status().lastRefused().reason()).contains(claimed).contains(two.checksum());

        ModelBundle three = TestBundles.heads(store.dirOf("3"), zero, "3", IemHeads.constant(d));
        Path weights = three.directory().resolve(ModelBundle.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 5] ^= 0x04;
        Files.write(weights, bytes);
        publish(TestBundles.release(three, ReleaseKind.HEADS));
        await(() -> watcher.status().refused() == 2);
        assertThat(watcher.status().lastRefused().reason()).contains("corrupt or replaced weights");

        ModelBundle four = TestBundles.otherPooling(store.dirOf("4"), zero, "4", IemHeads.constant(d));
        publish(TestBundles.release(four, ReleaseKind.FULL));
        await(() -> watcher.status().pending() == 1);
        // Nobody fills embeddings.4 here (no indexer): its index stays empty and searches stay on version 1.
        JsonNode building = json(get(service, "/models")).at("/releases/building");
        assertThat(building.get("release").asText()).isEqualTo("4");
        assertThat(building.get("topic").asText()).isEqualTo("embeddings.4");
        assertThat(building.get("coverage").asDouble()).isZero();
        publish(TestBundles.release(four, ReleaseKind.HEADS)); // mislabelled: the bundle tells
        await(() -> watcher.status().refused() == 3);
        assertThat(watcher.status().lastRefused().reason()).isEqualTo("release 4 names the serving embeddings topic"
            + " embeddings but does not embed passages as model 0 does");
        publish(TestBundles.as(TestBundles.release(two, ReleaseKind.HEADS), ReleaseKind.HEADS,
            ReleaseStage.CANARY));
        await(() -> service.search().canary().isPresent());
        assertThat(json(get(service, "/models")).at("/releases/canary/version").asText()).isEqualTo("2");
        withdrawCanary();
        await(() -> service.search().canary().isEmpty() && watcher.status().ignored() == 1);
        await(() -> searchers.answered("1") >= 10);
        searchers.check(firstStage);
        assertThat(searchers.answered("0")).as("version 1 throughout").isZero();
      }
      JsonNode models = json(get(service, "/models"));
      assertThat(models.at("/rerank/version").asText()).isEqualTo("1");
      assertThat(models.at("/releases/adopted").asLong()).as("release 1, at catch-up").isEqualTo(1);
      assertThat(models.at("/releases/refused").asLong()).isEqualTo(3);
      assertThat(models.at("/releases/pending").asLong()).isEqualTo(1);
      assertThat(models.at("/releases/lastRefused/version").asText()).isEqualTo("4");
      HttpApiTest.assertValid(json(get(service, "/openapi.json")), "Models", models);
      assertThat(search(service).get("modelVersion").asText()).isEqualTo("1");
    }
  }

  private static QueryService start(QueryServiceConfig config) {
    return QueryService.start(config, zero, embedder, store, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
        List.of());
  }

  /** Waits for 200 on /health: the index and the release watcher have caught up. */
  private static void awaitReady(QueryService service) {
    await(() -> {
      try {
        return get(service, "/health").statusCode() == 200;
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
  }

  /** Threads that search over HTTP until closed, keeping every answer and every failure. */
  private static final class Searchers implements AutoCloseable {
    private final List<Thread> threads = new ArrayList<>();
    private final List<List<JsonNode>> answers = new ArrayList<>();
    private final List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean running = true;

    Searchers(QueryService service, int count) {
      for (int i = 0; i < count; i++) {
        List<JsonNode> mine = Collections.synchronizedList(new ArrayList<>());
        answers.add(mine);
        Thread thread = new Thread(() -> {
          while (running) {
            try {
              mine.add(search(service));
            } catch (Throwable t) {
              errors.add(t);
            }
          }
        }, "searcher-" + i);
        threads.add(thread);
        thread.start();
      }
    }

    long answered(String version) {
      long n = 0;
      for (List<JsonNode> mine : answers) {
        synchronized (mine) {
          n += mine.stream().filter(a -> a.get("modelVersion").asText().equals(version)).count();
        }
      }
      return n;
    }

    /**
     * No errors; every answer whole, in its version's order (0: the vector order, 1: reversed by the IEM); in each
     * thread no answer of 0 after one of 1.
     */
    void check(List<String> firstStage) {
      close();
      assertThat(errors).isEmpty();
      for (List<JsonNode> mine : answers) {
        boolean swapped = false;
        for (JsonNode answer : mine) {
          String version = answer.get("modelVersion").asText();
          assertThat(ids(answer)).as("answer of version %s", version).hasSize(K);
          if (version.equals("0")) {
            assertThat(swapped).as("version 0 after version 1").isFalse();
            assertThat(answer.get("reranked").asBoolean()).isFalse();
            assertThat(ids(answer)).containsExactlyElementsOf(firstStage);
          } else {
            assertThat(version).isEqualTo("1");
            swapped = true;
            assertThat(answer.get("reranked").asBoolean()).isTrue();
            assertThat(ids(answer)).containsExactlyElementsOf(firstStage.reversed());
          }
        }
      }
      log.info("Searchers: {} answers of version 0, {} of version 1, no errors", answered("0"), answered("1"));
    }

    @Override
    public void close() {
      running = false;
      for (Thread thread : threads) {
        try {
          thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** A tombstone of the canary key. */
  private static void withdrawCanary() throws Exception {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(),
        new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, Topics.CANARY_RELEASE, null)).get(30, TimeUnit.SECONDS);
    }
  }

  private static void publish(ModelRelease release) throws Exception {
    Map<String, Object> props = new HashMap<>();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
    String key = release.getStage() == ReleaseStage.CURRENT ? Topics.CURRENT_RELEASE : "canary";
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
        new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, key, Topics.modelReleaseSerde().encode(release)))
          .get(30, TimeUnit.SECONDS);
    }
  }

  /** The impressions of these query ids; waits up to {@link #TIMEOUT} for all of them. */
  private static Map<String, Impression> impressions(Set<String> queryIds) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    Map<String, Impression> found = new HashMap<>();
    Set<String> wanted = new HashSet<>(queryIds);
    TopicPartition partition = new TopicPartition(Topics.IMPRESSIONS, 0);
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.assign(List.of(partition));
      consumer.seekToBeginning(List.of(partition));
      while (!wanted.isEmpty() && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          if (wanted.remove(record.key())) {
            found.put(record.key(), Topics.impressionSerde().decode(record.value()));
          }
        }
      }
    }
    assertThat(wanted).as("impressions not found").isEmpty();
    return found;
  }

  private static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  private static List<String> ids(JsonNode answer) {
    List<String> ids = new ArrayList<>();
    answer.get("results").forEach(r -> ids.add(r.get("passageId").asText()));
    return ids;
  }

  private static JsonNode search(QueryService service) throws Exception {
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(uri(service, "/search"))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"query\": \"" + QUERY + "\", \"k\": " + K + "}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  private static HttpResponse<String> get(QueryService service, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(uri(service, path)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  private static URI uri(QueryService service, String path) {
    return URI.create("http://127.0.0.1:" + service.port() + path);
  }
}
