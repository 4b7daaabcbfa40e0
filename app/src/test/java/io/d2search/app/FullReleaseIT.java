package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.broker.TestKafka;
import io.d2search.bundle.BundleStore;
import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Tensor;
import io.d2search.config.Settings;
import io.d2search.embed.Embedder;
import io.d2search.embed.PmaHead;
import io.d2search.events.ModelRelease;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.indexer.Indexer;
import io.d2search.indexer.ReleaseEmbedders;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHeads;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import io.d2search.testkit.Randomized;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * FULL releases end to end on a real broker ({@link TestKafka}), the real model and real bundle files, wired as the
 * services run ({@link Components}): the indexer and the query service serve version 0 of the sample corpus while a
 * thread searches over HTTP throughout. A FULL release (another PMA head, so other passage vectors, and an IEM head)
 * is published; the indexer re-embeds every passage into {@code embeddings.1} while documents keep arriving and one
 * is deleted; the query service builds version 1's index beside the serving one and switches once it covers every
 * passage. Then every live passage is in version 1's index exactly once, with the text the serving version had, no
 * search failed or came back empty, and no search after the switch was answered by version 0. A second FULL release
 * retires the first (its topic, its indexer application, its index directory), and a release whose bundle does not
 * match its checksum is refused by both services.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class FullReleaseIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration TIMEOUT = Duration.ofMinutes(4);

  @TempDir Path dir;

  @Test
  @Timeout(600)
  void fullReleasesAreReEmbeddedAndSwitchedToWhileSearchesGoOn() throws Exception {
    List<String> sample = sampleLines();
    Path first = dir.resolve("first.jsonl");
    Path later = dir.resolve("later.jsonl");
    Files.write(first, sample.subList(0, 40));
    Files.write(later, sample.subList(40, 52));
    try (TestKafka kafka = TestKafka.start(dir.resolve("kafka"))) {
      Settings s = Settings.defaults().with("data.dir", dir.resolve("data")).with("kafka.bootstrap.servers",
              kafka.bootstrapServers()).with("http.port", 0).with("model.provider", "CPU")
          .with("indexer.reembed.max-rate", 0).with("indexer.reembed.retire-after-ms", 2000);
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      ModelBundle zero = Components.serviceBundle(s);
      BundleStore store = Components.bundleStore(s);
      try (Embedder embedder = Components.serviceEmbedder(s, zero);
          Indexer indexer = Components.newIndexer(s, embedder, registry)) {
        indexer.start();
        try (QueryService service = Components.startQueryService(s, zero, embedder, registry, indexer);
            CorpusIngester ingester = new CorpusIngester(kafka.bootstrapServers())) {
          ingester.ingest(first);
          await("the first 40 documents searchable", () -> docIds(service).size() == 40);
          int before = service.index().size();
          URI base = URI.create("http://127.0.0.1:" + service.port());

          Searcher searcher = new Searcher(base);
          try {
            full((DirectoryBundleStore) store, zero, "1", 4, 7);
            ModelRelease planned = ReleasePublisher.publish(s, "1", true);
            assertThat(planned.getKind()).isEqualTo(ReleaseKind.FULL);
            assertThat(planned.getEmbeddingsTopic()).isEqualTo("embeddings.1");
            assertThat(ReleasePublisher.current(s)).as("a dry run publishes nothing").isEmpty();
            ModelRelease published = ReleasePublisher.publish(s, "1", false);
            assertThat(published.getParentVersion()).isEqualTo("0");
            // Documents keep flowing while version 1 is built: new ones, and a delete.
            ingester.ingest(later);
            ingester.delete(List.of(docId(sample.get(0))));
            await("version 1 serving", () -> service.search().serving().version().equals("1"));
            await("the later documents searchable in version 1", () -> docIds(service).size() == 51);
            searcher.awaitAnswers(5);
            JsonNode models = JSON.readTree(get(base.resolve("/models")));
            assertThat(models.at("/index/modelVersion").asText()).isEqualTo("1");
            assertThat(models.at("/index/topic").asText()).isEqualTo("embeddings.1");
            assertThat(models.at("/releases/pending").asLong()).isEqualTo(1);
            assertThat(models.at("/releases/adopted").asLong()).isEqualTo(1);
            assertThat(models.at("/releases/building").isNull()).isTrue();

            // Every live passage exactly once in version 1, with the text version 0 has, and another vector.
            Map<String, PassageEmbedding> v0 = latest(kafka.bootstrapServers(), Topics.EMBEDDINGS);
            Map<String, PassageEmbedding> v1 = latest(kafka.bootstrapServers(), "embeddings.1");
            assertThat(v1.keySet()).isEqualTo(v0.keySet());
            assertThat(v0.size()).isGreaterThan(before);
            v1.forEach((id, e) -> {
              assertThat(e.getModelVersion()).isEqualTo("1");
              assertThat(e.getTextHash()).as(id).isEqualTo(v0.get(id).getTextHash());
              assertThat(e.getVector()).as(id).isNotEqualTo(v0.get(id).getVector());
            });
            await("version 1's index holds every live passage", () -> service.index().size() == v1.size());
            assertThat(docIds(service)).doesNotContain(docId(sample.get(0)));
            JsonNode answer = JSON.readTree(post(base.resolve("/search"), Map.of("query", "storing rice", "k", 5)));
            assertThat(answer.path("modelVersion").asText()).isEqualTo("1");
            assertThat(answer.path("reranked").asBoolean()).isTrue();

            // A bundle that is not what its release says: both services refuse it.
            ModelBundle bad = full((DirectoryBundleStore) store, zero, "3", 2, 11);
            ModelRelease forged = ModelRelease.newBuilder(release(bad, store)).setSha256("ab".repeat(32)).build();
            publish(kafka.bootstrapServers(), forged);
            await("the forged release refused", () -> service.releases().orElseThrow().status().refused() == 1);
            assertThat(indexer.releaseEmbedders().orElseThrow().versions()).doesNotContain("3");

            // A second FULL release replaces the first and retires it everywhere.
            full((DirectoryBundleStore) store, zero, "2", 2, 9);
            ReleasePublisher.publish(s, "2", false);
            await("version 2 serving", () -> service.search().serving().version().equals("2"));
            ReleaseEmbedders embedders = indexer.releaseEmbedders().orElseThrow();
            await("version 1 retired by the indexer", () -> embedders.versions().equals(List.of("2"))
                && !topics(kafka.bootstrapServers()).contains("embeddings.1"));
            Path v1Index = Components.queryService(s).indexDirFor("1");
            await("version 1's index deleted", () -> !Files.exists(v1Index));
            assertThat(service.index().size()).isEqualTo(v1.size());
            searcher.awaitAnswers(5);

            // A bundle with version 2's PMA and another IEM head is a HEADS release over embeddings.2: a hot swap.
            full((DirectoryBundleStore) store, zero, "4", 2, 9);
            ModelRelease heads = ReleasePublisher.publish(s, "4", false);
            assertThat(heads.getKind()).isEqualTo(ReleaseKind.HEADS);
            assertThat(heads.getEmbeddingsTopic()).isEqualTo("embeddings.2");
            assertThat(heads.getParentVersion()).isEqualTo("2");
            await("version 4 serving", () -> service.search().serving().version().equals("4"));
            assertThat(service.index().modelVersion()).isEqualTo("2");
            assertThat(embedders.versions()).containsExactly("2");
            searcher.awaitAnswers(5);
          } finally {
            searcher.close();
          }
          assertThat(searcher.problems).as("searches during both switches").isEmpty();
          assertThat(searcher.answers.size()).isGreaterThan(20);
          assertThat(searcher.versionsInOrder()).as("never back to an older version once switched")
              .containsExactly("0", "1", "2", "4");
          assertThat(registry.scrape()).contains("d2search_model_releases_total{outcome=\"pending\"} 2.0")
              .contains("d2search_embed_passages_total{topic=\"embeddings.2\"}");
        }
      }
    }
  }

  /** A FULL release's bundle: version 0's backbone, another PMA (heads, seed), and a random IEM head. */
  private static ModelBundle full(DirectoryBundleStore store, ModelBundle parent, String version, int heads,
      long seed) {
    int d = parent.manifest().dimension();
    IemHead iem = IemHeads.random(Randomized.random("FullReleaseIT" + version), IemHead.Input.CONCAT, d, 8);
    Map<String, Tensor> tensors = new TreeMap<>(HeadTensors.of(PmaHead.meanInit(d, heads, seed)));
    tensors.putAll(HeadTensors.of(iem));
    Manifest m = parent.manifest();
    Manifest child = new Manifest(Manifest.FORMAT_VERSION, version, parent.version(), m.backbone(), d,
        Manifest.PoolingSpec.pma(heads), Manifest.IemSpec.of(iem.input(), iem.hidden()), null, null, Map.of(),
        "2026-12-07T00:00:00Z");
    ModelBundle.write(store.dirOf(version), child, tensors);
    return ModelBundle.load(store.dirOf(version));
  }

  private static ModelRelease release(ModelBundle bundle, BundleStore store) {
    return ModelRelease.newBuilder().setVersion(bundle.version()).setParentVersion("0")
        .setBundleUri(((DirectoryBundleStore) store).uriOf(bundle.version()).toString())
        .setSha256(bundle.checksum()).setKind(ReleaseKind.FULL).setStage(ReleaseStage.CURRENT)
        .setEmbeddingsTopic(Topics.embeddingsTopicOf(bundle.version())).setMetrics(Map.of()).setTs(Instant.now())
        .build();
  }

  private static void publish(String bootstrap, ModelRelease release) throws Exception {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(), new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, Topics.CURRENT_RELEASE,
          Topics.modelReleaseSerde().encode(release))).get();
    }
  }

  /** The latest value per key of a compacted topic, tombstones removing. */
  private static Map<String, PassageEmbedding> latest(String bootstrap, String topic) {
    Map<String, PassageEmbedding> out = new HashMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
        new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          if (r.value() == null) {
            out.remove(r.key());
          } else {
            out.put(r.key(), Topics.embeddingSerde().decode(r.value()));
          }
        }
      }
    }
    return out;
  }

  private static Set<String> topics(String bootstrap) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      return admin.listTopics().names().get();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static Set<String> docIds(QueryService service) {
    Set<String> ids = new java.util.HashSet<>();
    service.index().forEachPassage(p -> ids.add(p.docId()));
    return ids;
  }

  private static List<String> sampleLines() throws Exception {
    try (InputStream in = FullReleaseIT.class.getResourceAsStream("/sample/documents.jsonl")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
    }
  }

  private static String docId(String line) {
    try {
      return JSON.readTree(line).get("id").asText();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("%s within %s", what, TIMEOUT).isLessThan(deadline);
      Thread.sleep(200);
    }
  }

  private static String get(URI uri) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private static String post(URI uri, Map<String, Object> body) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** One thread that searches over HTTP until closed; every answer must be 200 and non-empty. */
  private static final class Searcher implements AutoCloseable {
    final List<String> problems = new CopyOnWriteArrayList<>();
    final List<String> answers = new CopyOnWriteArrayList<>(); // the model version of each answer, in order
    private final AtomicBoolean searching = new AtomicBoolean(true);
    private final Thread thread;

    Searcher(URI base) {
      List<String> queries = List.of("storing cooked rice", "how to sharpen a knife", "sourdough starter",
          "cast iron care", "freezing bread");
      thread = new Thread(() -> {
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 0; searching.get(); i++) {
          try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/search"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                    JSON.writeValueAsString(Map.of("query", queries.get(i % queries.size()), "k", 5)))).build(),
                HttpResponse.BodyHandlers.ofString());
            JsonNode body = JSON.readTree(r.body());
            if (r.statusCode() != 200 || body.path("results").isEmpty()) {
              problems.add(r.statusCode() + " " + r.body());
            } else {
              answers.add(body.path("modelVersion").asText());
            }
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            problems.add(e.toString());
          }
        }
      }, "full-release-searcher");
      thread.start();
    }

    void awaitAnswers(int more) throws InterruptedException {
      int target = answers.size() + more;
      await(more + " more answers", () -> answers.size() >= target);
    }

    /** The versions that answered, each once, in the order they first answered; fails if one came back later. */
    List<String> versionsInOrder() {
      List<String> order = new ArrayList<>();
      for (String v : answers) {
        if (order.isEmpty() || !order.get(order.size() - 1).equals(v)) {
          assertThat(order).as("version %s answered again after a newer one", v).doesNotContain(v);
          order.add(v);
        }
      }
      return order;
    }

    @Override
    public void close() {
      searching.set(false);
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
