package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.d2search.app.Components;
import io.d2search.app.CorpusIngester;
import io.d2search.app.TopicSetup;
import io.d2search.bench.ClickSimulator;
import io.d2search.broker.TestKafka;
import io.d2search.bundle.ModelBundle;
import io.d2search.config.Settings;
import io.d2search.data.BeirDataset;
import io.d2search.embed.Embedder;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.feedback.FeedbackJob;
import io.d2search.indexer.Indexer;
import io.d2search.ingest.CorpusDocument;
import io.d2search.loop.CanaryReport;
import io.d2search.loop.DistillerService;
import io.d2search.loop.RefreshReport;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The retraining loop end to end, every service as the demo wires it, on a slice of SciFact: documents ingested
 * through the indexer; simulated users search and click judged training queries over HTTP; the feedback join turns
 * that into training pairs; asked over its HTTP endpoint, the distiller refreshes the IEM head and releases (its gate
 * told to accept any candidate: the gate's decisions are DistillerServiceIT's subject, the release path is this
 * test's) as the canary; the query service interleaves it with version 0 in every re-ranked search; simulated users
 * click again, the feedback join credits each click to the model that picked it, and the distiller promotes or rolls
 * back the canary on a sign test, which the query service follows; a release whose checksum does not match its bundle
 * is refused and the serving model stays; then a FULL refresh (the PMA head too) is released over vectors of its own,
 * the indexer re-embeds every passage into them and the query service switches to its new index, every passage there
 * exactly once. Searches run throughout, none failing, none empty.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class LoopIT {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final int QUERIES = 60;
  private static final int OTHER_DOCS = 40;

  @TempDir Path dir;

  @Test
  @Timeout(900)
  void clicksBecomeAReleaseThatTheQueryServiceSwapsToWhileSearching() throws Exception {
    Path scifact = Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
    Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    BeirDataset train = BeirDataset.load(scifact, "train");
    Map<String, String> queries = new LinkedHashMap<>();
    Map<String, Map<String, Integer>> qrels = new TreeMap<>();
    train.qrels().entrySet().stream().filter(e -> train.queries().containsKey(e.getKey())).limit(QUERIES)
        .forEach(e -> {
          queries.put(e.getKey(), train.queries().get(e.getKey()));
          qrels.put(e.getKey(), e.getValue());
        });
    Map<String, CorpusDocument> docs = new LinkedHashMap<>();
    qrels.values().forEach(j -> j.keySet().forEach(id -> docs.put(id, train.corpus().get(id))));
    train.corpus().values().stream().filter(d -> !docs.containsKey(d.id())).limit(OTHER_DOCS)
        .forEach(d -> docs.put(d.id(), d));
    Path corpus = dir.resolve("corpus.jsonl");
    List<String> lines = new ArrayList<>();
    for (CorpusDocument d : docs.values()) {
      lines.add(JSON.writeValueAsString(Map.of("_id", d.id(), "title", d.title(), "text", d.text())));
    }
    Files.write(corpus, lines);

    try (TestKafka kafka = TestKafka.start(dir.resolve("kafka"))) {
      Settings s = Settings.defaults().with("data.dir", dir.resolve("data")).with("kafka.bootstrap.servers",
              kafka.bootstrapServers()).with("http.port", 0).with("distiller.port", 0)
          .with("model.provider", "CPU").with("teacher.cache-dir", dir.resolve("teacher"))
          .with("feedback.window-ms", 3000).with("feedback.grace-ms", 1000)
          .with("search.clicks-per-minute", 1_000_000)
          // Refreshes when the test asks (POST /refresh), as an operator does: one that started by itself after the
          // canary's verdict would race the FULL refresh below. DistillerServiceIT's first refresh starts by itself.
          .with("distiller.refresh.every-examples", Integer.MAX_VALUE).with("distiller.min-training-lists", 10)
          // No validation slice: early stopping watches the training loss, so a FULL refresh surely moves the PMA head
          // (on a validation slice this small it may not, and an unchanged PMA is rightly released as HEADS).
          .with("distiller.validation-fraction", 0).with("indexer.reembed.max-rate", 0)
          .with("distiller.gate.min-queries", 3).with("distiller.gate.margin", -1)
          .with("distiller.gate.recall-tolerance", 1).with("distiller.epochs", 2).with("distiller.negatives", 3)
          .with("distiller.dense-negatives", 2).with("distiller.negative-depth", 20).with("distiller.batch-size", 8)
          .with("search.canary-share", 1.0).with("distiller.canary.min-impressions", 10)
          .with("distiller.canary.max-impressions", 30);
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      TopicSetup.forFeedback(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      ModelBundle bundle = Components.serviceBundle(s);
      try (Embedder embedder = Components.serviceEmbedder(s, bundle);
          Indexer indexer = Components.newIndexer(s, embedder, registry)) {
        indexer.start();
        try (QueryService service = Components.startQueryService(s, bundle, embedder, registry, indexer);
            FeedbackJob feedback = Components.feedback(s, registry);
            DistillerProcess distiller = DistillerProcess.start(s, registry)) {
          feedback.start();
          try (CorpusIngester ingester = new CorpusIngester(kafka.bootstrapServers())) {
            ingester.ingest(corpus);
          }
          awaitIndexed(service, docs.keySet());
          URI base = URI.create("http://127.0.0.1:" + service.port());

          // Searches throughout: each answer must be 200 and non-empty, whatever is being swapped.
          AtomicBoolean searching = new AtomicBoolean(true);
          AtomicInteger answered = new AtomicInteger();
          List<String> problems = new java.util.concurrent.CopyOnWriteArrayList<>();
          List<String> texts = List.copyOf(queries.values());
          Thread searcher = new Thread(() -> {
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; searching.get(); i++) {
              try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/search"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(Map.of("query", texts.get(i % texts.size()), "k", 10)))).build(),
                    HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200 || JSON.readTree(r.body()).path("results").isEmpty()) {
                  problems.add(r.statusCode() + " " + r.body());
                }
                answered.incrementAndGet();
                Thread.sleep(50);
              } catch (Exception e) {
                problems.add(e.toString());
              }
            }
          });
          searcher.start();
          try {
            ClickSimulator.Report clicks = new ClickSimulator(base).run(new ClickSimulator.Plan(queries, qrels, 10,
                1.0, 0.8, 0.05, 20, 7, null), n -> { });
            assertThat(clicks.failed()).isZero();
            assertThat(clicks.relevantClicks()).isGreaterThan(QUERIES / 2);

            // A refresh (the configured kind, HEADS); what passes goes out as the canary.
            DistillerService loop = distiller.service();
            URI distillerBase = URI.create("http://127.0.0.1:" + distiller.port());
            awaitFeedback(loop, 25);
            assertThat(JSON.readTree(post(distillerBase.resolve("/refresh"), Map.of())).path("refreshing").asText())
                .isEqualTo("loop-1");
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (service.search().canary().isEmpty()) {
              assertThat(System.nanoTime()).as("a canary served within 10 minutes; distiller: %s", loop.status())
                  .isLessThan(deadline);
              Thread.sleep(500);
            }
            String released = service.search().canary().get().version();
            assertThat(released).startsWith("loop-");
            assertThat(service.search().serving().version()).isEqualTo(bundle.version());
            RefreshReport report = loop.status().reports().stream().filter(r -> r.version().equals(released))
                .findFirst().orElseThrow();
            assertThat(report.decision()).isEqualTo(RefreshReport.Decision.RELEASED);
            assertThat(report.trainLists()).isGreaterThanOrEqualTo(10);
            assertThat(report.metrics()).containsKeys("gate.ndcg.current", "gate.ndcg.candidate");
            JsonNode models = JSON.readTree(get(base.resolve("/models")));
            assertThat(models.path("releases").path("canary").path("version").asText()).isEqualTo(released);

            // Simulated users again: every re-ranked search is now interleaved (search.canary-share 1), their clicks
            // credit the model that picked the result, and the distiller promotes or rolls back the canary.
            for (int round = 0; round < 4 && loop.status().canaries().isEmpty(); round++) {
              ClickSimulator.Report more = new ClickSimulator(base).run(new ClickSimulator.Plan(queries, qrels, 10,
                  1.0, 0.8, 0.05, 20, 100 + round, null), n -> { });
              assertThat(more.failed()).isZero();
              long settle = System.nanoTime() + Duration.ofSeconds(20).toNanos();
              while (loop.status().canaries().isEmpty() && System.nanoTime() < settle) {
                Thread.sleep(500);
              }
            }
            assertThat(loop.status().canaries()).as("a canary decision; distiller: %s", loop.status()).isNotEmpty();
            CanaryReport decided = loop.status().canaries().getLast();
            assertThat(decided.version()).isEqualTo(released);
            assertThat(decided.current()).isEqualTo(bundle.version());
            assertThat(decided.wins() + decided.losses()).isGreaterThanOrEqualTo(10);
            String serving = decided.decision() == CanaryReport.Decision.PROMOTED ? released : bundle.version();
            long switched = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!service.search().serving().version().equals(serving) || service.search().canary().isPresent()) {
              assertThat(System.nanoTime()).as("the query service follows the decision %s", decided)
                  .isLessThan(switched);
              Thread.sleep(200);
            }
            models = JSON.readTree(get(base.resolve("/models")));
            assertThat(models.path("rerank").path("version").asText()).isEqualTo(serving);
            assertThat(models.path("releases").path("canary").isNull()).isTrue();
            JsonNode answer = JSON.readTree(post(base.resolve("/search"), Map.of("query", texts.get(0), "k", 5)));
            assertThat(answer.path("modelVersion").asText()).isEqualTo(serving);
            assertThat(get(URI.create("http://127.0.0.1:" + distiller.port() + "/status"))).contains(released,
                "RELEASED", decided.decision().name());
            assertThat(get(URI.create("http://127.0.0.1:" + distiller.port() + "/metrics")))
                .contains("d2search_distiller_refreshes_total{decision=\"released\"}");
            // Every metric the Grafana dashboard plots is served by one of the loop's services (all in registry).
            String scraped = registry.scrape();
            JsonNode dashboard = JSON.readTree(Path.of("..", "deploy", "grafana", "d2search-dashboard.json").toFile());
            java.util.regex.Matcher names = java.util.regex.Pattern.compile("d2search_[a-z0-9_]+")
                .matcher(dashboard.toString());
            int plotted = 0;
            while (names.find()) {
              assertThat(scraped).as("the dashboard plots %s", names.group())
                  .containsPattern("(?m)^" + names.group() + "[{ ]");
              plotted++;
            }
            assertThat(plotted).isGreaterThan(20);

            // A release whose checksum is not its bundle's is refused; the last good one keeps serving.
            ModelBundle good = ModelBundle.load(Components.bundlesDir(s).resolve(released));
            publish(kafka.bootstrapServers(), ModelRelease.newBuilder().setVersion(released + "-forged")
                .setParentVersion(released).setBundleUri(good.directory().toAbsolutePath().toUri().toString())
                .setSha256("0".repeat(64)).setKind(ReleaseKind.HEADS).setStage(ReleaseStage.CURRENT)
                .setTs(Instant.now()).build());
            long refusedBy = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (JSON.readTree(get(base.resolve("/models"))).path("releases").path("refused").asLong() == 0) {
              assertThat(System.nanoTime()).as("the forged release refused").isLessThan(refusedBy);
              Thread.sleep(200);
            }
            assertThat(service.search().serving().version()).isEqualTo(serving);
            // The distiller refuses it too: it keeps training from, and gating against, the release that serves.
            while (!registry.scrape().contains("d2search_distiller_releases_refused_total")) {
              assertThat(System.nanoTime()).as("the distiller refuses the forged release").isLessThan(refusedBy);
              Thread.sleep(200);
            }

            // An operator asks for a FULL refresh: the PMA head trains too, the gate judges the candidate over an index
            // of its own vectors, and it goes out as the current release over embeddings.<v>; the indexer re-embeds
            // every live passage into that topic and the query service switches once its new index covers the old.
            List<String> passagesBefore = passageIds(service);
            assertThat(passagesBefore).doesNotHaveDuplicates().hasSize(service.index().size());
            HttpResponse<String> refused = send(distillerBase.resolve("/refresh?kind=bogus"), Map.of());
            assertThat(refused.statusCode()).isEqualTo(400);
            assertThat(JSON.readTree(refused.body()).path("error").asText()).contains("heads or full");
            String full = JSON.readTree(post(distillerBase.resolve("/refresh?kind=full"), Map.of())).path("refreshing")
                .asText();
            assertThat(full).startsWith("loop-");
            RefreshReport fullReport = awaitReport(loop, full);
            assertThat(fullReport.decision()).as(fullReport.describe()).isEqualTo(RefreshReport.Decision.RELEASED);
            assertThat(fullReport.parent()).isEqualTo(serving);
            long rebuilt = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (!service.search().serving().version().equals(full)) {
              assertThat(System.nanoTime()).as("the FULL release %s re-embedded and switched to", full)
                  .isLessThan(rebuilt);
              Thread.sleep(200);
            }
            models = JSON.readTree(get(base.resolve("/models")));
            assertThat(models.at("/index/topic").asText()).isEqualTo(Topics.embeddingsTopicOf(full));
            assertThat(models.at("/index/modelVersion").asText()).isEqualTo(full);
            assertThat(models.at("/releases/canary").isNull()).isTrue();
            // Every passage exactly once after the switch: none lost, none twice.
            assertThat(passageIds(service)).doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(passagesBefore);
            answer = JSON.readTree(post(base.resolve("/search"), Map.of("query", texts.get(0), "k", 5)));
            assertThat(answer.path("modelVersion").asText()).isEqualTo(full);
            Thread.sleep(1000); // a few more searches after the switch
          } finally {
            searching.set(false);
            searcher.join(10_000);
          }
          assertThat(problems).as("searches that failed or came back empty").isEmpty();
          assertThat(answered.get()).isGreaterThan(50);
        }
      }
    }
  }

  private static RefreshReport awaitReport(DistillerService loop, String version) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (true) {
      java.util.Optional<RefreshReport> report = loop.status().reports().stream()
          .filter(r -> r.version().equals(version)).findFirst();
      if (report.isPresent()) {
        return report.get();
      }
      assertThat(System.nanoTime()).as("refresh %s done; distiller: %s", version, loop.status()).isLessThan(deadline);
      Thread.sleep(500);
    }
  }

  /** Waits until the distiller holds at least {@code examples} new examples. */
  private static void awaitFeedback(DistillerService loop, int examples) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (loop.status().newFeedback() < examples) {
      assertThat(System.nanoTime()).as("%d examples joined; distiller: %s", examples, loop.status())
          .isLessThan(deadline);
      Thread.sleep(500);
    }
  }

  private static List<String> passageIds(QueryService service) {
    List<String> ids = new ArrayList<>();
    service.index().forEachPassage(p -> ids.add(p.passageId()));
    return ids;
  }

  private static void awaitIndexed(QueryService service, java.util.Set<String> docIds) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (!docIds.stream().allMatch(id -> service.index().get(id + "#0").isPresent())) {
      assertThat(System.nanoTime()).as("every document searchable within 5 minutes").isLessThan(deadline);
      Thread.sleep(500);
    }
  }

  private static void publish(String bootstrap, ModelRelease release) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
        new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, Topics.CURRENT_RELEASE,
          Topics.modelReleaseSerde().encode(release))).get();
    }
  }

  private static String get(URI uri) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static String post(URI uri, Object body) throws Exception {
    return send(uri, body).body();
  }

  private static HttpResponse<String> send(URI uri, Object body) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
