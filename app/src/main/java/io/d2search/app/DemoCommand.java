package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.ingest.CorpusFile;
import io.d2search.broker.EmbeddedKafka;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.index.PassageIndex;
import io.d2search.index.StoredPassage;
import io.d2search.feedback.FeedbackJob;
import io.d2search.indexer.Indexer;
import io.d2search.ingest.Chunker;
import io.d2search.serve.QueryService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code demo}: the all-in-one system in one JVM: an embedded KRaft broker, the indexer and the query service with
 * the bundled model; ingests a corpus, waits until every passage is searchable, then serves. The query service
 * follows {@code model-releases} as a standalone one does: a HEADS release of a bundle under the bundles directory
 * replaces its re-ranker without a restart.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "All-in-one: embedded Kafka + indexer + query service in one JVM; ingest a corpus (the bundled "
        + "sample by default), wait until it is searchable, then serve search on localhost.")
public final class DemoCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(DemoCommand.class);
  /** Give up waiting (but keep serving) when indexing makes no progress for this long. */
  private static final Duration STALL = Duration.ofSeconds(120);

  @Mixin ConfigOptions config;

  @Option(names = "--corpus", paramLabel = "PATH",
      description = "JSONL documents to ingest: a BEIR corpus.jsonl or {id,title,body,url} lines "
          + "(default: the sample corpus bundled with d2search).")
  Path corpus;

  @Option(names = "--port", description = "HTTP port of the query service (default: setting http.port).")
  Integer port;

  @Option(names = "--kafka-port", defaultValue = "9092",
      description = "Port of the embedded Kafka broker (default: ${DEFAULT-VALUE}; 0 picks a free one).")
  int kafkaPort;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Where the broker log, stream state and index live (default: setting data.dir). "
          + "A second run on the same directory resumes: nothing is embedded again.")
  Path dataDir;

  @Option(names = "--exit-when-ready", description = "Stop after the corpus is searchable instead of serving.")
  boolean exitWhenReady;

  @Option(names = "--metrics-out", paramLabel = "FILE",
      description = "Once the corpus is searchable, write the Prometheus metrics (what GET /metrics answers) to FILE.")
  Path metricsOut;

  @Override
  public Integer call() throws Exception {
    Settings s = config.settings().with("http.port", port).with("data.dir", dataDir);
    Path data = Components.dataDir(s);
    Path documents = corpus != null ? corpus : extractSample(data);
    if (!Files.isRegularFile(documents)) {
      throw new IllegalArgumentException("no such corpus file: " + documents);
    }
    try (Lifecycle life = new Lifecycle()) {
      log.info("Starting embedded Kafka (data in {})", data.resolve("kafka").toAbsolutePath());
      EmbeddedKafka kafka = life.add(EmbeddedKafka.start(data.resolve("kafka"), kafkaPort));
      s = s.with("kafka.bootstrap.servers", kafka.bootstrapServers());
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      TopicSetup.forFeedback(s);

      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      ModelBundle bundle = Components.serviceBundle(s);
      Embedder embedder = life.add(Components.serviceEmbedder(s, bundle));
      Indexer indexer = life.add(Components.newIndexer(s, embedder, registry));
      indexer.start();
      // One embedder for passages and queries, unless queries have an encoder of their own (search.query-encoder).
      Embedder queries = Components.queryEmbedderConfig(s).equals(Components.embedder(s)) ? embedder
          : life.add(Components.queryEmbedder(s, bundle));
      QueryService service = life.add(Components.startQueryService(s, bundle, queries, registry, indexer));
      // The retraining loop's first step: what users click becomes training examples on training-pairs.
      FeedbackJob feedback = life.add(Components.feedback(s, registry));
      feedback.start();
      // Services of jars beside this one (the lab's distiller closes the loop: training-pairs -> model-releases).
      List<String> companions = new ArrayList<>();
      for (DemoCompanion companion : ServiceLoader.load(DemoCompanion.class)) {
        DemoCompanion.Started started = companion.start(s, registry);
        life.add(started.stop());
        companions.add(started.description());
      }

      Map<String, String> expected = expectedPassages(documents, new Chunker(embedder.tokenizer(), Components.chunker(s)));
      try (CorpusIngester ingester = new CorpusIngester(kafka.bootstrapServers())) {
        ingester.ingest(documents);
      }
      awaitSearchable(service.index(), expected);

      String url = "http://localhost:" + service.port();
      System.out.printf("%nd2search is serving %d passages at %s (Kafka at %s, metrics at %s/metrics)%n",
          service.index().size(), url, kafka.bootstrapServers(), url);
      System.out.printf("Try:%n  curl -s -X POST %s/search -H 'Content-Type: application/json' "
          + "-d '{\"query\": \"my bike makes a grinding noise when I pedal hard\", \"k\": 3}'%n", url);
      System.out.printf("  ./d2search search --url %s how much time off do new dads get%n", url);
      if (corpus == null) { // the sample corpus's attributes: category, audience, words
        System.out.printf("  ./d2search search --url %s --filter '{\"category\": \"cycling\"}' --explain chain "
            + "keeps skipping%n", url);
      }
      System.out.printf("  ./d2search ingest --bootstrap-servers %s --corpus more-docs.jsonl%n", kafka.bootstrapServers());
      if (service.releases().isPresent()) {
        System.out.printf("Re-ranker: model %s; HEADS releases on model-releases (bundles in %s) replace it without a "
            + "restart (GET %s/models)%n", service.search().serving().version(), Components.bundlesDir(s), url);
      }
      companions.forEach(c -> System.out.println(c));
      System.out.println();
      if (metricsOut != null) {
        Files.writeString(metricsOut, registry.scrape());
      }
      if (!exitWhenReady) {
        System.out.println("Ctrl-C stops it.");
        life.awaitShutdown();
      }
    }
    return 0;
  }

  /** The bundled sample corpus, copied out of the jar so it can be read like any other file. */
  private static Path extractSample(Path dataDir) throws IOException {
    Path target = dataDir.resolve("sample-documents.jsonl");
    Files.createDirectories(dataDir);
    try (InputStream in = DemoCommand.class.getResourceAsStream("/sample/documents.jsonl")) {
      if (in == null) {
        throw new IllegalStateException("the sample corpus is missing from the application jar");
      }
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
    }
    return target;
  }

  /** Passage id → hash of the text the indexer will embed, computed with the indexer's own chunker. */
  private static Map<String, String> expectedPassages(Path documents, Chunker chunker) {
    Map<String, String> expected = new LinkedHashMap<>();
    CorpusFile.forEachDocument(documents, d -> {
      List<String> chunks = chunker.chunk(d.text());
      String title = d.title().isEmpty() ? null : d.title();
      for (int n = 0; n < chunks.size(); n++) {
        expected.put(d.id() + "#" + n, TextHash.sha256(EmbedText.of(title, chunks.get(n))));
      }
    });
    return expected;
  }

  /** Shows a progress bar until every expected passage is in the index with the expected text. */
  private static void awaitSearchable(PassageIndex index, Map<String, String> expected) throws InterruptedException {
    long lastProgress = System.nanoTime();
    int done = 0;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName("index").setInitialMax(expected.size())
        .setStyle(ProgressBarStyle.ASCII).setUnit(" passages", 1).setUpdateIntervalMillis(250).showSpeed().build()) {
      var pending = new java.util.ArrayList<>(expected.entrySet());
      while (!pending.isEmpty()) {
        pending.removeIf(e -> {
          Optional<StoredPassage> stored = index.get(e.getKey());
          return stored.isPresent() && stored.get().textHash().equals(e.getValue());
        });
        int now = expected.size() - pending.size();
        if (now > done) {
          bar.stepTo(now);
          done = now;
          lastProgress = System.nanoTime();
        } else if (System.nanoTime() - lastProgress > STALL.toNanos()) {
          log.warn("{} passages are still not searchable after {} s without progress (see documents.dlq); "
              + "serving what there is", pending.size(), STALL.toSeconds());
          return;
        }
        Thread.sleep(200);
      }
    }
  }
}
