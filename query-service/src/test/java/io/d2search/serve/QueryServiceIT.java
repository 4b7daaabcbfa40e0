package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.broker.TestKafka;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.events.Click;
import io.d2search.events.Impression;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import io.d2search.index.StoredPassage;
import io.d2search.schemas.Topics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
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
 * The query-service against a real Kafka broker ({@link TestKafka}: embedded, or a container): materialise
 * transactional embeddings, serve them, emit impressions and clicks, then restart on the same index and resume from
 * the offsets in the Lucene commit.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class QueryServiceIT {
  private static final Logger log = LoggerFactory.getLogger(QueryServiceIT.class);
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final int EMBEDDING_PARTITIONS = 2;

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static Embedder embedder;

  @BeforeAll
  static void start() {
    // Step 1: one broker and the model for the whole class; topics up front.
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(
        new NewTopic(Topics.EMBEDDINGS, EMBEDDING_PARTITIONS, kafka.replicationFactor()).configs(Map.of("cleanup.policy", "compact")),
        new NewTopic(Topics.IMPRESSIONS, 1, kafka.replicationFactor()),
        new NewTopic(Topics.CLICKS, 1, kafka.replicationFactor()));
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
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
  void servesProducedEmbeddingsAndResumesFromTheIndexCommit() throws Exception {
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrapServers(), dir.resolve("index"))
        .withHttp("127.0.0.1", 0)
        .withCommitPolicy(60_000, 1); // commit after every batch (by count, not time), to see it while running
    Map<String, PassageEmbedding> corpus = new HashMap<>();
    for (String[] doc : HttpApiTest.CORPUS) {
      corpus.put(doc[0] + "#0", embedding(doc[0], doc[1], doc[2]));
    }

    // Step 2: produce in a transaction, start, wait for readiness, search.
    produceTransactionally(corpus, true);
    try (QueryService service = QueryService.start(config, embedder, new PrometheusMeterRegistry(
        PrometheusConfig.DEFAULT))) {
      assertThat(service.materializer().awaitCaughtUp(TIMEOUT)).isTrue();
      // Caught up means: up to the last stable offset when reading began. Right after commitTransaction the
      // broker may not have written the commit markers yet, so that offset can still be 0; wait for the records.
      awaitSize(service, corpus.size());
      HttpResponse<String> health = get(service, "/health");
      assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
      assertThat(JSON.readTree(health.body()).get("status").asText()).isEqualTo("ready");

      JsonNode found = search(service, "a pet kitten", 3);
      assertThat(found.at("/results/0/passageId").asText()).isEqualTo("cats#0");
      String queryId = found.get("queryId").asText();

      // Impressions and clicks reach their topics, keyed by query id.
      Impression impression = Topics.impressionSerde().decode(awaitRecord(Topics.IMPRESSIONS, queryId));
      assertThat(impression.getQuery()).isEqualTo("a pet kitten");
      assertThat(impression.getResults().get(0).getPassageId()).isEqualTo("cats#0");
      assertThat(impression.getResults()).hasSize(3);
      // The loop learns from the first stage: the impression says which, and where each retriever put each result.
      assertThat(impression.getMode()).isEqualTo("hybrid");
      assertThat(impression.getReranked()).isFalse();
      for (int i = 0; i < 3; i++) {
        var shown = impression.getResults().get(i);
        JsonNode result = found.get("results").get(i);
        assertThat(shown.getFirstStageRank()).isEqualTo(i + 1);
        assertThat(shown.getVectorRank()).as("5 passages, all in the vector list").isNotNull();
        assertThat(shown.getScore()).isEqualTo(result.get("score").floatValue());
      }
      HttpResponse<String> click = post(service, "/clicks",
          "{\"queryId\": \"" + queryId + "\", \"passageId\": \"cats#0\", \"rank\": 1, \"dwellMs\": 900}");
      assertThat(click.statusCode()).isEqualTo(202);
      assertThat(JSON.readTree(click.body()).get("recorded").asBoolean()).isTrue();
      Click recorded = Topics.clickSerde().decode(awaitRecord(Topics.CLICKS, queryId));
      assertThat(recorded.getPassageId()).isEqualTo("cats#0");
      assertThat(recorded.getDwellMs()).isEqualTo(900);

      // Freshness: a passage written now becomes searchable without a restart.
      long produced = System.nanoTime();
      produceTransactionally(Map.of("owls#0", embedding("owls", "Owls",
          "Owls are nocturnal birds of prey that hunt mice at night.")), true);
      await(() -> searchTop(service, "nocturnal bird of prey").equals("owls#0"));
      long freshnessMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - produced);
      log.info("Produced-to-searchable freshness: {} ms (includes the transaction commit and HTTP)", freshnessMs);
      assertThat(freshnessMs).isLessThan(10_000);
      assertThat(service.materializer().appliedRecords()).isEqualTo(6);

      // Commits happen while running (record-count policy), carrying the consumed positions.
      long end = sum(endOffsets());
      await(() -> sum(service.index().committedOffsets()) == end);
      assertThat(get(service, "/metrics").body()).contains("d2search_index_consumer_lag{topic=\"embeddings\"} 0.0");
    }
    Map<TopicPartition, Long> endAfterPhase1 = endOffsets();
    try (PassageIndex index = PassageIndex.open(config.indexDirFor("0"), "0", IndexConfig.defaults())) {
      assertThat(index.committedOffsets()).isEqualTo(endAfterPhase1);
      assertThat(index.size()).isEqualTo(6);
    }

    // Step 3: while the service is down: a delete, an update, a new passage, an aborted transaction, a record
    // that does not decode, and an embedding of another model version.
    String newBreadText = "Sourdough bread rises slowly with wild yeast and lactic acid bacteria.";
    Map<String, PassageEmbedding> changes = new HashMap<>();
    changes.put("stocks#0", null);
    changes.put("bread#0", embedding("bread", "Baking", newBreadText));
    changes.put("river#0", embedding("river", "Rivers", "A river carries fresh water from mountains to the sea."));
    produceTransactionally(changes, true);
    produceTransactionally(Map.of("ghost#0", embedding("ghost", "Ghost", "This transaction is aborted.")), false);
    produceRaw("junk#0", new byte[] {1, 2, 3});
    PassageEmbedding foreign = PassageEmbedding.newBuilder(embedding("cats", "Cats", "Re-embedded by version 9."))
        .setModelVersion("9").build();
    produceRaw("cats#0", Topics.embeddingSerde().encode(foreign));

    // Step 4: restart on the same index dir: only the new records are read.
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (QueryService service = QueryService.start(config, embedder, registry)) {
      assertThat(service.materializer().awaitCaughtUp(TIMEOUT)).isTrue();
      assertThat(service.materializer().appliedRecords()).as("resumed from the commit, not the beginning")
          .isEqualTo(3);
      assertThat(registry.get("d2search.index.records.skipped").tag("reason", "undecodable").counter().count())
          .isEqualTo(1);
      assertThat(registry.get("d2search.index.records.skipped").tag("reason", "model-version").counter().count())
          .isEqualTo(1);

      PassageIndex index = service.index();
      assertThat(index.size()).as("no duplicates, no gaps").isEqualTo(6);
      assertThat(index.get("stocks#0")).isEmpty();
      assertThat(index.get("ghost#0")).isEmpty();
      assertThat(index.get("junk#0")).isEmpty();
      assertThat(index.get("river#0")).isPresent();
      assertThat(index.get("owls#0")).isPresent();
      assertThat(index.get("bread#0")).get().extracting(StoredPassage::text).isEqualTo(newBreadText);
      assertThat(index.get("cats#0")).get().extracting(StoredPassage::textHash)
          .isEqualTo(corpus.get("cats#0").getTextHash());
      assertThat(searchTop(service, "sourdough with wild yeast")).isEqualTo("bread#0");
    }
    try (PassageIndex index = PassageIndex.open(config.indexDirFor("0"), "0", IndexConfig.defaults())) {
      assertThat(index.committedOffsets()).isEqualTo(endOffsets());
    }
  }

  private static PassageEmbedding embedding(String docId, String title, String text) {
    String embedded = EmbedText.of(title, text);
    List<Float> vector = new ArrayList<>();
    for (float x : embedder.embed(embedded)) {
      vector.add(x);
    }
    return PassageEmbedding.newBuilder().setDocId(docId).setN(0).setModelVersion(embedder.info().version())
        .setVector(vector).setTextHash(TextHash.sha256(embedded)).setTitle(title).setText(text)
        .setUrl("https://example.org/" + docId).setDocVersion(1).build();
  }

  private static void awaitSize(QueryService service, int passages) throws InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (service.index().size() < passages && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(service.index().size()).isEqualTo(passages);
  }

  /** Sends the records (null value = tombstone) in one transaction, then commits or aborts it. */
  private static void produceTransactionally(Map<String, PassageEmbedding> records, boolean commit) {
    Map<String, Object> props = producerConfig();
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "it-" + UUID.randomUUID());
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
      producer.initTransactions();
      producer.beginTransaction();
      records.forEach((key, value) ->
          producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, key, Topics.embeddingSerde().encode(value))));
      if (commit) {
        producer.commitTransaction();
      } else {
        producer.flush();
        producer.abortTransaction();
      }
    }
  }

  private static void produceRaw(String key, byte[] value) throws Exception {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerConfig())) {
      producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, key, value)).get(30, TimeUnit.SECONDS);
    }
  }

  private static Map<String, Object> producerConfig() {
    Map<String, Object> props = new HashMap<>();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
    return props;
  }

  private static KafkaConsumer<String, byte[]> consumer() {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    return new KafkaConsumer<>(props);
  }

  /** The read_committed end offsets of every embeddings partition. */
  private static Map<TopicPartition, Long> endOffsets() {
    try (KafkaConsumer<String, byte[]> consumer = consumer()) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (int p = 0; p < EMBEDDING_PARTITIONS; p++) {
        partitions.add(new TopicPartition(Topics.EMBEDDINGS, p));
      }
      return Map.copyOf(consumer.endOffsets(partitions, TIMEOUT));
    }
  }

  private static long sum(Map<TopicPartition, Long> offsets) {
    return offsets.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The value of the first record with this key in partition 0 of the topic; waits up to {@link #TIMEOUT}. */
  private static byte[] awaitRecord(String topic, String key) {
    TopicPartition partition = new TopicPartition(topic, 0);
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    try (KafkaConsumer<String, byte[]> consumer = consumer()) {
      consumer.assign(List.of(partition));
      consumer.seekToBeginning(List.of(partition));
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          if (key.equals(record.key())) {
            return record.value();
          }
        }
      }
    }
    throw new AssertionError("no record with key " + key + " in " + topic + " within " + TIMEOUT);
  }

  /** Polls {@code condition} every 10 ms until it holds; fails after {@link #TIMEOUT}. */
  private static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  private static String searchTop(QueryService service, String query) {
    try {
      return search(service, query, 1).at("/results/0/passageId").asText();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static JsonNode search(QueryService service, String query, int k) throws Exception {
    HttpResponse<String> response = post(service, "/search",
        JSON.writeValueAsString(Map.of("query", query, "k", k)));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  private static HttpResponse<String> get(QueryService service, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(uri(service, path)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(QueryService service, String path, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(uri(service, path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static URI uri(QueryService service, String path) {
    return URI.create("http://127.0.0.1:" + service.port() + path);
  }
}
