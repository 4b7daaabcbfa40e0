package io.d2search.bench;

import io.d2search.app.Components;
import io.d2search.events.ModelRelease;
import io.d2search.app.ReleasePublisher;
import io.d2search.app.CorpusIngester;
import io.d2search.app.Lifecycle;
import io.d2search.config.Settings;
import io.d2search.app.TopicSetup;
import io.d2search.ingest.CorpusFile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.broker.EmbeddedKafka;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.embed.TextHash;
import io.d2search.data.BeirDataset;
import io.d2search.ingest.CorpusDocument;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.index.Hit;
import io.d2search.index.PassageIndex;
import io.d2search.index.StoredPassage;
import io.d2search.indexer.Indexer;
import io.d2search.ingest.Chunker;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import io.d2search.serve.SearchRequest;
import io.d2search.serve.SearchService;
import io.d2search.index.RetrievalMode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline benchmark behind {@code d2search bench}: the system's speed figures (ingest throughput, freshness,
 * search latency) in one run on one machine, each set against a baseline measured in the same run: bare ONNX
 * embedding throughput vs the whole ingest pipeline through a real broker (exactly-once Kafka Streams, Lucene
 * index), produce-to-searchable freshness, search latency in process and over HTTP, and HNSW recall and latency
 * against exact search. Everything runs in a temporary directory that is deleted at the end.
 */
public final class PipelineBench {
  private static final Logger log = LoggerFactory.getLogger(PipelineBench.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Hits per search. */
  static final int K = 10;
  /** Untimed embedding batches before the bare-embedder measurement. */
  static final int WARMUP_BATCHES = 3;
  /** Untimed searches before each latency measurement. */
  static final int WARMUP_QUERIES = 20;
  /** Give up on the pipeline when the index grows by nothing for this long. */
  static final Duration STALL = Duration.ofSeconds(120);
  /** Give up on one freshness probe after this long. */
  static final Duration FRESHNESS_TIMEOUT = Duration.ofSeconds(60);
  /** How long the indexer and the materialiser may take to start. */
  static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(120);

  /**
   * What to measure.
   *
   * @param corpus JSONL documents (a BEIR corpus.jsonl or {id,title,body,url} lines); null: SciFact's corpus under
   *     the {@code lab.data-dir} setting when it exists, else the sample corpus bundled with d2search
   * @param docs the first N documents of the corpus, {@code >= 1}
   * @param queries a BEIR queries.jsonl or plain text, one query a line; null: queries.jsonl next to the corpus
   *     when it exists, else the document titles
   * @param queryCount the first N queries, {@code >= 1}
   * @param freshDocs new documents produced one at a time for produce-to-searchable latency, {@code >= 1}
   * @param fullRelease a model bundle directory with other passage vectors than {@code model.version}'s (another PMA
   *     head): released FULL at the end, while freshness probes and searches over HTTP run until the query service
   *     has switched to it; null to skip
   * @param burstDocs new documents produced as a burst after the latency steps, {@code >= 0}; 0 to skip
   * @param burstFactor the burst's rate as a multiple of the pipeline's own rate measured in step 2, {@code > 0}
   */
  public record Plan(Path corpus, int docs, Path queries, int queryCount, int freshDocs, Path fullRelease,
      int burstDocs, double burstFactor) {
    public Plan {
      if (docs < 1 || queryCount < 1 || freshDocs < 1) {
        throw new IllegalArgumentException("--docs, --query-count and --fresh-docs must be at least 1");
      }
      if (burstDocs < 0 || !(burstFactor > 0) || Double.isInfinite(burstFactor)) {
        throw new IllegalArgumentException("--burst-docs must be >= 0 and --burst-factor > 0: " + burstDocs + ", "
            + burstFactor);
      }
    }

    /** A plan without the burst and the FULL release phases. */
    public Plan(Path corpus, int docs, Path queries, int queryCount, int freshDocs) {
      this(corpus, docs, queries, queryCount, freshDocs, null, 0, 10);
    }
  }

  private final Settings settings;
  private final int docs;
  private final int queryCount;
  private final int freshDocs;
  private final Path corpus;
  private final Path queriesFile;
  private final Path fullRelease;
  private final int burstDocs;
  private final double burstFactor;

  /**
   * @param settings the services' settings (model, chunking, index, batching); data and network settings are
   *     replaced by the run's own (temporary directory, embedded broker, loopback port)
   */
  public PipelineBench(Plan plan, Settings settings) {
    this.settings = settings;
    this.docs = plan.docs();
    this.queryCount = plan.queryCount();
    this.freshDocs = plan.freshDocs();
    this.corpus = plan.corpus();
    this.queriesFile = plan.queries();
    this.fullRelease = plan.fullRelease();
    this.burstDocs = plan.burstDocs();
    this.burstFactor = plan.burstFactor();
  }

  /** Runs every measurement and returns the table's rows. */
  public Report run() throws Exception {
    Path tmp = Files.createTempDirectory("d2search-bench-");
    try {
      return run(tmp);
    } finally {
      deleteRecursively(tmp);
    }
  }

  private Report run(Path tmp) throws Exception {
    Settings s = settings.with("data.dir", tmp).with("http.host", "127.0.0.1").with("http.port", 0)
        .with("search.impressions", true);
    Path corpusFile = resolveCorpus(tmp);
    List<CorpusDocument> documents = firstDocuments(corpusFile, docs);
    QuerySet queries = loadQueries(corpusFile, documents);
    Path slice = writeCorpus(documents, tmp.resolve("bench-corpus.jsonl"));
    int batch = s.integer("embed.max-batch");
    int steps = 5 + (burstDocs > 0 ? 1 : 0) + (fullRelease == null ? 0 : 1);

    Report report = new Report();
    report.add("machine", String.format(Locale.ROOT, "%d cores (Runtime.availableProcessors()), %s %s, JDK %s",
        Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"), System.getProperty("os.arch"),
        Runtime.version().feature()));

    try (Lifecycle life = new Lifecycle()) {
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      ModelBundle bundle = Components.serviceBundle(s);
      Embedder embedder = life.add(Components.serviceEmbedder(s, bundle));
      ModelInfo model = embedder.info();
      report.add("model", String.format(Locale.ROOT, "%s (dim %d, max %d tokens), ONNX provider %s, "
          + "model.threads %s, batch %d; bundle v%s, %s", model.backboneId(), model.dimension(), model.maxTokens(),
          model.provider(), s.integer("model.threads") == 0 ? "0 (all cores)" : s.string("model.threads"), batch,
          bundle.version(), bundle.iem().isEmpty() ? "no IEM head (first-stage order)"
              : "IEM re-ranking of the HNSW top " + s.string("search.rerank-depth")));

      Chunker chunker = new Chunker(embedder.tokenizer(), Components.chunker(s));
      Map<String, String> passageTexts = passageTexts(documents, chunker);
      if (passageTexts.isEmpty()) {
        throw new IllegalArgumentException("the first " + docs + " documents of " + corpusFile + " have no text");
      }
      Map<String, String> expected = new LinkedHashMap<>();
      passageTexts.forEach((id, text) -> expected.put(id, TextHash.sha256(text)));
      String corpusName = corpusFile.startsWith(tmp) ? "the bundled sample (/sample/documents.jsonl)"
          : corpusFile.toString();
      report.add("corpus", corpusName + " (first " + documents.size() + " documents)");
      report.add("documents / passages", String.format(Locale.ROOT, "%d / %d (chunks of %s tokens, %s overlap)",
          documents.size(), passageTexts.size(), s.string("chunk.max-tokens"), s.string("chunk.overlap-tokens")));
      report.add("queries", queries.texts().size() + " from " + queries.source());

      // 1. Baseline: the bare ONNX session over the same passage texts, batched as the indexer batches.
      log.info("bench 1/{}: bare ONNX embedding of {} passages", steps, passageTexts.size());
      List<String> texts = List.copyOf(passageTexts.values());
      long bareNanos = bareEmbed(embedder, texts, batch);
      double bareRate = texts.size() / (bareNanos / 1e9);
      report.add("bare ONNX embed (baseline)", String.format(Locale.ROOT, "%.1f passages/s (%d passages in %.2f s)",
          bareRate, texts.size(), bareNanos / 1e9));

      // 2. The whole pipeline: broker, chunker and embedder apps (exactly-once), materialiser, Lucene index.
      log.info("bench 2/{}: full pipeline through an embedded broker", steps);
      EmbeddedKafka kafka = life.add(EmbeddedKafka.start(tmp.resolve("kafka"), 0));
      s = s.with("kafka.bootstrap.servers", kafka.bootstrapServers());
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      Indexer indexer = life.add(Components.newIndexer(s, embedder, registry));
      indexer.start();
      QueryService service = life.add(Components.startQueryService(s, bundle, embedder, registry));
      if (!indexer.awaitRunning(STARTUP_TIMEOUT)) {
        throw new IllegalStateException("the indexer did not start within " + STARTUP_TIMEOUT.toSeconds()
            + " s: " + indexer.state());
      }
      if (!service.materializer().awaitCaughtUp(STARTUP_TIMEOUT)) {
        throw new IllegalStateException("the query service's materialiser did not start within "
            + STARTUP_TIMEOUT.toSeconds() + " s", service.materializer().failure().orElse(null));
      }
      long pipelineNanos;
      try (CorpusIngester ingester = new CorpusIngester(kafka.bootstrapServers())) {
        long start = System.nanoTime();
        ingester.ingest(slice);
        pipelineNanos = awaitAll(service, indexer, expected) - start;
      }
      double pipelineRate = expected.size() / (pipelineNanos / 1e9);
      report.add("full pipeline (broker, exactly-once, index)", String.format(Locale.ROOT,
          "%.1f passages/s (%d passages in %.2f s, first produce to all searchable); ratio pipeline/bare = %.2f",
          pipelineRate, expected.size(), pipelineNanos / 1e9, pipelineRate / bareRate));

      // 3. Freshness: one new document at a time, from the produce call until all its passages are searchable.
      log.info("bench 3/{}: freshness of {} single documents", steps, freshDocs);
      KafkaProducer<String, byte[]> producer = life.add(producer(kafka.bootstrapServers()));
      HopWatcher hops = life.add(new HopWatcher(kafka.bootstrapServers(), List.of(Topics.PASSAGES,
          Topics.EMBEDDINGS)));
      hops.awaitPositioned();
      Freshness fresh = freshness(producer, hops, service, indexer, embedder, chunker, documents);
      report.add("freshness produce→searchable p50 / p99 / max", String.format(Locale.ROOT,
          "%.0f / %.0f / %.0f ms (%d single documents); bare embed of the same passages p50 %.1f ms, "
              + "ratio freshness/bare p50 = %.1f", ms(fresh.searchable().p50()), ms(fresh.searchable().p99()),
          ms(fresh.searchable().max()), fresh.searchable().count(), ms(fresh.bareEmbed().p50()),
          fresh.searchable().p50() / (double) fresh.bareEmbed().p50()));
      report.add("pipeline overhead (freshness − bare embed, per probe) p50 / p99 / max", String.format(Locale.ROOT,
          "%.0f / %.0f / %.0f ms (indexer.commit-interval-ms %d)", ms(fresh.overhead().p50()),
          ms(fresh.overhead().p99()), ms(fresh.overhead().max()), s.longValue("indexer.commit-interval-ms")));
      if (fresh.chunkHop() != null) {
        report.add("freshness by hop p50 / p99 / max (when a read_committed consumer first saw the probe's last "
            + "passage, then its last embedding)", String.format(Locale.ROOT, "produce → passages %s; passages → "
            + "embeddings %s (embedding included); embeddings → searchable %s (%d probes; embed.max-wait-ms %d)",
            hop(fresh.chunkHop()), hop(fresh.embedHop()), hop(fresh.indexHop()), fresh.chunkHop().count(),
            s.longValue("embed.max-wait-ms")));
      }

      // 4. Search latency: in process (query embedding, HNSW, stored fields, impression) and over HTTP.
      log.info("bench 4/{}: search latency over {} queries", steps, queries.texts().size());
      Map<RetrievalMode, Percentiles> byMode = searchByMode(service.search(), queries.texts(), true);
      Percentiles inProcess = byMode.get(service.search().config().mode());
      Percentiles overHttp;
      try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build()) {
        overHttp = searchOverHttp(http, URI.create("http://127.0.0.1:" + service.port() + "/search"),
            queries.texts());
      }
      for (RetrievalMode mode : RetrievalMode.values()) {
        Percentiles p = byMode.get(mode);
        report.add("search in-process p50 / p99, " + mode.label() + " mode" + (mode == RetrievalMode.VECTOR
            ? " (embed + HNSW + impression)" : mode == RetrievalMode.KEYWORD ? " (BM25 + impression, no embedding)"
            : " (embed + HNSW + BM25 + fusion + impression)"), String.format(Locale.ROOT, "%.2f / %.2f ms%s",
            ms(p.p50()), ms(p.p99()), mode == service.search().config().mode() ? " (the default mode)" : ""));
      }
      byMode.forEach((mode, p) -> report.latency(mode.label() + " (in process)", p));
      Percentiles vectorOnly = byMode.get(RetrievalMode.VECTOR);
      Percentiles hybrid = byMode.get(RetrievalMode.HYBRID);
      report.add("hybrid's added cost over vector (BM25 + fusion of the top " + service.search().rerankDepth()
          + " of each)", String.format(Locale.ROOT, "p50 +%.2f ms, p99 +%.2f ms; ratio hybrid/vector p50 = %.2f, "
          + "p99 = %.2f", ms(hybrid.p50() - vectorOnly.p50()), ms(hybrid.p99() - vectorOnly.p99()),
          hybrid.p50() / (double) vectorOnly.p50(), hybrid.p99() / (double) vectorOnly.p99()));
      report.latency(service.search().config().mode().label() + " over HTTP", overHttp);
      report.add("search over HTTP p50 / p99 (POST /search)", String.format(Locale.ROOT,
          "%.2f / %.2f ms; ratio HTTP/in-process p50 = %.2f", ms(overHttp.p50()), ms(overHttp.p99()),
          overHttp.p50() / (double) inProcess.p50()));
      if (service.search().iem().isPresent()) {
        // The same queries in first-stage order: what the re-ranking step costs.
        Percentiles hnswOnly = searchByMode(service.search(), queries.texts(), false)
            .get(service.search().config().mode());
        report.add("search in-process p50 / p99 without re-ranking (rerank=false)", String.format(Locale.ROOT,
            "%.2f / %.2f ms; re-ranking adds %.2f ms at p50", ms(hnswOnly.p50()), ms(hnswOnly.p99()),
            ms(inProcess.p50() - hnswOnly.p50())));
      }
      report.add("where a search's time goes (ms per search so far, mean and median, the d2search.search.stage "
          + "timers)",
          stageBreakdown(registry));

      // 5. HNSW against exact search over the same query vectors.
      log.info("bench 5/{}: HNSW vs exact search", steps);
      HnswQuality quality = hnswQuality(service.index(), embedder.embed(queries.texts()));
      report.add("HNSW search p50 (k=" + K + ", vector given)", String.format(Locale.ROOT, "%.3f ms",
          ms(quality.hnsw().p50())));
      report.add("exact search p50 (brute force)", String.format(Locale.ROOT, "%.3f ms (HNSW is %.1f× faster)",
          ms(quality.exact().p50()), quality.exact().p50() / (double) quality.hnsw().p50()));
      report.add("HNSW recall@" + K + " vs exact", String.format(Locale.ROOT, "%.3f (mean over %d queries, "
          + "%d passages, ef-search %s)", quality.recall(), quality.hnsw().count(), service.index().size(),
          s.string("index.hnsw.ef-search")));
      if (burstDocs > 0) {
        log.info("bench 6/{}: a burst of {} documents at {}x the pipeline's rate", steps, burstDocs, burstFactor);
        burst(report, producer, hops, service, indexer, embedder, chunker, documents, documents.size() / (pipelineNanos
            / 1e9), pipelineRate, fresh);
      }
      if (fullRelease != null) {
        log.info("bench {}/{}: FULL release {} while ingesting and searching", steps, steps,
            fullRelease.getFileName());
        fullRelease(s, report, producer, hops, service, indexer, embedder, chunker, documents, queries.texts(), fresh,
            overHttp, expected.size());
      }
      log.info("bench done; stopping");
    }
    return report;
  }

  /**
   * 6. A burst of {@code burstDocs} new documents at {@code burstFactor} × the pipeline's document rate of step 2
   * ({@link Burst}), then freshness again once it has drained, against step 3's idle figures.
   */
  private void burst(Report report, KafkaProducer<String, byte[]> producer, HopWatcher hops, QueryService service,
      Indexer indexer, Embedder embedder, Chunker chunker, List<CorpusDocument> documents,
      double pipelineDocsPerSecond, double pipelinePassagesPerSecond, Freshness idle) throws InterruptedException {
    Burst.Result b = new Burst(producer, service, indexer, chunker).run(documents, burstDocs,
        burstFactor * pipelineDocsPerSecond);
    Freshness after = freshness(producer, hops, service, indexer, embedder, chunker, documents);
    double produceRate = b.documents() / b.produceSeconds();
    report.add("burst: produced", String.format(Locale.ROOT, "%d documents (%d passages) in %.1f s: %.1f documents/s"
        + " = %.1f× the pipeline's rate of step 2 (%.2f documents/s)", b.documents(), b.passages(),
        b.produceSeconds(), produceRate, produceRate / pipelineDocsPerSecond, pipelineDocsPerSecond));
    Burst.Sample peak = b.peakLag();
    double drainRate = b.passages() / b.drainSeconds();
    report.add("burst: lag (records the chunker + embedder have not committed)", String.format(Locale.ROOT,
        "peak %,d at %.1f s (documents %,d, passages %,d); every passage searchable %.1f s after the first produce "
            + "(%.1f s after the last): %.1f passages/s, ratio to step 2's pipeline rate = %.2f", peak.lag(),
        peak.seconds(), peak.documentsLag(), peak.passagesLag(), b.drainSeconds(),
        b.drainSeconds() - b.produceSeconds(), drainRate, drainRate / pipelinePassagesPerSecond));
    report.add("burst: lag over time (s: records)", lagSeries(b.samples()));
    report.add("burst: memory (this JVM: broker, indexer, query service)", String.format(Locale.ROOT,
        "heap in use at the start %s, peak %s (max heap %s); resident at the start %s, peak %s",
        mib(b.first().heapUsed()), mib(b.peakHeap()), mib(b.heapMax()), mib(b.first().resident()),
        mib(b.peakResident())));
    report.add("freshness after the burst drained: overhead p50 / p99 / max", String.format(Locale.ROOT,
        "%.0f / %.0f / %.0f ms (%d single documents); idle (step 3) %.0f / %.0f / %.0f ms, ratio p99 after/idle = "
            + "%.2f", ms(after.overhead().p50()), ms(after.overhead().p99()), ms(after.overhead().max()),
        after.overhead().count(), ms(idle.overhead().p50()), ms(idle.overhead().p99()), ms(idle.overhead().max()),
        after.overhead().p99() / (double) idle.overhead().p99()));
  }

  /** About a dozen evenly spaced lag samples, the peak and the last among them. */
  static String lagSeries(List<Burst.Sample> samples) {
    int step = Math.max(1, samples.size() / 12);
    Burst.Sample peak = Burst.peakLag(samples);
    List<String> points = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      Burst.Sample x = samples.get(i);
      if (i % step == 0 || x == peak || i == samples.size() - 1) {
        points.add(String.format(Locale.ROOT, "%.0f: %,d", x.seconds(), x.lag()));
      }
    }
    return String.join(", ", points);
  }

  private static String hop(Percentiles p) {
    return String.format(Locale.ROOT, "%.0f / %.0f / %.0f ms", ms(p.p50()), ms(p.p99()), ms(p.max()));
  }

  private static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%,d MiB", bytes >> 20);
  }

  /**
   * Last step: a FULL release while ingestion and search go on: the bundle is copied into the bundle store and
   * released; the indexer re-embeds every passage into its topic (at {@code indexer.reembed.max-rate}) while single
   * documents are produced one at a time (the serving version's freshness) and a thread searches over HTTP, until
   * the query service has switched. Each figure is set against the same run's idle one.
   */
  private void fullRelease(Settings s, Report report, KafkaProducer<String, byte[]> producer, HopWatcher hops,
      QueryService service, Indexer indexer, Embedder embedder, Chunker chunker, List<CorpusDocument> documents,
      List<String> queries, Freshness idleFreshness, Percentiles idleHttp, int passages) throws Exception {
    String version = fullRelease.getFileName().toString();
    Path target = Components.bundlesDir(s).resolve(version);
    Files.createDirectories(target);
    try (var files = Files.list(fullRelease)) {
      for (Path f : files.toList()) {
        Files.copy(f, target.resolve(f.getFileName()));
      }
    }
    List<Long> searchNanos = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicBoolean searching = new java.util.concurrent.atomic.AtomicBoolean(true);
    URI uri = URI.create("http://127.0.0.1:" + service.port() + "/search");
    Thread searcher = new Thread(() -> {
      try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build()) {
        for (int i = 0; searching.get(); i++) {
          long start = System.nanoTime();
          try {
            post(http, uri, queries.get(i % queries.size()));
            searchNanos.add(System.nanoTime() - start);
          } catch (Exception e) {
            failures.add(e.getMessage());
          }
        }
      }
    }, "bench-full-release-searcher");
    long start = System.nanoTime();
    ModelRelease release = ReleasePublisher.publish(s, version, false);
    if (release.getKind() != io.d2search.events.ReleaseKind.FULL
        || release.getEmbeddingsTopic().equals(Topics.EMBEDDINGS)) {
      throw new IllegalArgumentException(fullRelease + " embeds passages as model.version does (a "
          + release.getKind() + " release): --full-release needs a bundle with other passage vectors");
    }
    searcher.start();
    List<Long> freshNanos = new ArrayList<>();
    long switchedAt;
    try {
      while (!service.search().serving().version().equals(version)) {
        if (System.nanoTime() - start > Duration.ofHours(2).toNanos()) {
          throw new IllegalStateException("release " + version + " was not switched to within 2 hours: "
              + service.releases().map(r -> r.status().toString()).orElse("no release watcher"));
        }
        checkAlive(service, indexer);
        Freshness probe = freshness(producer, hops, service, indexer, embedder, chunker, documents, 1);
        if (!service.search().serving().version().equals(version)) {
          freshNanos.add(probe.searchable().p50()); // a probe that ended after the switch measured the new index
        }
      }
      switchedAt = System.nanoTime();
    } finally {
      searching.set(false);
      searcher.join(30_000);
    }
    double seconds = (switchedAt - start) / 1e9;
    int reembedded = service.index().size(); // the release's index at the switch: the corpus and every probe so far
    report.add("FULL release " + version + ": re-embed and switch", String.format(Locale.ROOT,
        "%s; %.1f s from publishing to the switch, %.1f passages/s re-embedded (%d passages: the %d of the corpus "
            + "and the probes; indexer.reembed.max-rate %s)", release.getEmbeddingsTopic(), seconds,
        reembedded / seconds, reembedded, passages, s.string("indexer.reembed.max-rate")));
    if (!freshNanos.isEmpty()) {
      Percentiles during = Percentiles.of(freshNanos.stream().mapToLong(Long::longValue).toArray());
      report.add("freshness while re-embedding p50 / max", String.format(Locale.ROOT,
          "%.0f / %.0f ms (%d single documents); ratio to idle p50 = %.2f, max = %.2f", ms(during.p50()),
          ms(during.max()), during.count(), during.p50() / (double) idleFreshness.searchable().p50(),
          during.max() / (double) idleFreshness.searchable().max()));
    }
    long[] nanos = searchNanos.stream().mapToLong(Long::longValue).toArray();
    if (nanos.length > 0) {
      Percentiles during = Percentiles.of(nanos);
      report.latency("hybrid over HTTP while re-embedding", during);
      report.add("search over HTTP while re-embedding p50 / p99", String.format(Locale.ROOT,
          "%.2f / %.2f ms (%d searches, %d failed); ratio to idle p50 = %.2f, p99 = %.2f", ms(during.p50()),
          ms(during.p99()), during.count(), failures.size(), during.p50() / (double) idleHttp.p50(),
          during.p99() / (double) idleHttp.p99()));
    }
    if (!failures.isEmpty()) {
      throw new IllegalStateException(failures.size() + " searches failed during the FULL release, first: "
          + failures.getFirst());
    }
  }

  // ---- inputs ----

  private Path resolveCorpus(Path tmp) throws IOException {
    if (corpus != null) {
      if (!Files.isRegularFile(corpus)) {
        throw new IllegalArgumentException("no such corpus file: " + corpus);
      }
      return corpus;
    }
    Path scifact = Path.of(settings.string("lab.data-dir")).resolve("scifact").resolve("corpus.jsonl");
    if (Files.isRegularFile(scifact)) {
      return scifact.toAbsolutePath().normalize();
    }
    Path target = tmp.resolve("sample-corpus.jsonl");
    try (InputStream in = PipelineBench.class.getResourceAsStream("/sample/documents.jsonl")) {
      if (in == null) {
        throw new IllegalStateException("the sample corpus is missing from the application jar");
      }
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
    }
    return target;
  }

  private static List<CorpusDocument> firstDocuments(Path file, int n) {
    List<CorpusDocument> out = new ArrayList<>(Math.min(n, 10_000));
    CorpusFile.forEachDocument(file, d -> {
      if (out.size() < n) {
        out.add(d);
      }
    });
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no documents in " + file);
    }
    return out;
  }

  /** The queries and where they came from. */
  record QuerySet(String source, List<String> texts) {}

  private QuerySet loadQueries(Path corpusFile, List<CorpusDocument> documents) {
    Path file = queriesFile;
    if (file == null) {
      Path sibling = corpusFile.toAbsolutePath().resolveSibling("queries.jsonl");
      file = Files.isRegularFile(sibling) ? sibling : null;
    } else if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no such queries file: " + file);
    }
    List<String> texts = new ArrayList<>();
    String source;
    if (file != null) {
      source = file.toString();
      boolean jsonl = file.getFileName().toString().endsWith(".jsonl");
      try (Stream<String> lines = Files.lines(file, StandardCharsets.UTF_8)) {
        for (String line : (Iterable<String>) lines::iterator) {
          if (texts.size() >= queryCount) {
            break;
          }
          String text = jsonl && !line.isBlank() ? queryText(file, line) : line;
          addQuery(texts, text);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot read queries " + file, e);
      }
    } else {
      source = "the document titles";
      for (CorpusDocument d : documents) {
        if (texts.size() >= queryCount) {
          break;
        }
        addQuery(texts, d.title().isBlank() ? d.text().substring(0, Math.min(200, d.text().length())) : d.title());
      }
    }
    if (texts.isEmpty()) {
      throw new IllegalArgumentException("no queries in " + source);
    }
    return new QuerySet(source, List.copyOf(texts));
  }

  private static String queryText(Path file, String line) {
    try {
      JsonNode node = JSON.readTree(line);
      return node.hasNonNull("text") ? node.get("text").asText() : node.path("query").asText("");
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + line, e);
    }
  }

  private static void addQuery(List<String> texts, String text) {
    String q = text.strip();
    if (!q.isEmpty()) {
      texts.add(q.length() > SearchService.MAX_QUERY_CHARS ? q.substring(0, SearchService.MAX_QUERY_CHARS) : q);
    }
  }

  /** The documents as {@code {id,title,body,url}} JSONL, for {@link CorpusIngester}. */
  private static Path writeCorpus(List<CorpusDocument> documents, Path target) throws IOException {
    try (BufferedWriter out = Files.newBufferedWriter(target, StandardCharsets.UTF_8)) {
      for (CorpusDocument d : documents) {
        Map<String, String> line = new LinkedHashMap<>();
        line.put("id", d.id());
        line.put("title", d.title());
        line.put("body", d.text());
        if (d.url() != null) {
          line.put("url", d.url());
        }
        out.write(JSON.writeValueAsString(line));
        out.write('\n');
      }
    }
    return target;
  }

  /** Passage id → the exact text the indexer embeds, with the indexer's own chunker. */
  private static Map<String, String> passageTexts(List<CorpusDocument> documents, Chunker chunker) {
    Map<String, String> texts = new LinkedHashMap<>();
    for (CorpusDocument d : documents) {
      texts.putAll(passageTexts(d.id(), d.title(), d.text(), chunker));
    }
    return texts;
  }

  static Map<String, String> passageTexts(String docId, String title, String body, Chunker chunker) {
    Map<String, String> texts = new LinkedHashMap<>();
    List<String> chunks = chunker.chunk(body);
    String t = title == null || title.isEmpty() ? null : title;
    for (int n = 0; n < chunks.size(); n++) {
      texts.put(docId + "#" + n, EmbedText.of(t, chunks.get(n)));
    }
    return texts;
  }

  // ---- measurements ----

  /** Nanoseconds to embed every text in batches of {@code batch}, after a few untimed batches. */
  private static long bareEmbed(Embedder embedder, List<String> texts, int batch) {
    for (int from = 0, b = 0; from < texts.size() && b < WARMUP_BATCHES; from += batch, b++) {
      embedder.embed(texts.subList(from, Math.min(texts.size(), from + batch)));
    }
    long start = System.nanoTime();
    for (int from = 0; from < texts.size(); from += batch) {
      embedder.embed(texts.subList(from, Math.min(texts.size(), from + batch)));
    }
    return System.nanoTime() - start;
  }

  /**
   * Waits until every expected passage is in the index with the expected text hash; returns the
   * {@link System#nanoTime()} at which that was first seen.
   */
  private static long awaitAll(QueryService service, Indexer indexer, Map<String, String> expected)
      throws InterruptedException {
    PassageIndex index = service.index();
    List<Map.Entry<String, String>> pending = new ArrayList<>(expected.entrySet());
    long lastProgress = System.nanoTime();
    int lastSize = -1;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName("index").setInitialMax(expected.size())
        .setStyle(ProgressBarStyle.ASCII).setUnit(" passages", 1).setUpdateIntervalMillis(250).showSpeed().build()) {
      while (true) {
        checkAlive(service, indexer);
        long seen = System.nanoTime();
        int size = index.size();
        if (size != lastSize) {
          bar.stepTo(Math.min(size, expected.size()));
          lastSize = size;
          lastProgress = seen;
        }
        if (size >= expected.size()) {
          pending.removeIf(e -> present(index, e.getKey(), e.getValue()));
          if (pending.isEmpty()) {
            bar.stepTo(expected.size());
            return seen;
          }
        }
        if (seen - lastProgress > STALL.toNanos()) {
          throw new IllegalStateException(String.format(Locale.ROOT, "indexing stalled: %d of %d passages "
              + "searchable after %d s without progress (see documents.dlq)", size, expected.size(),
              STALL.toSeconds()));
        }
        Thread.sleep(20);
      }
    }
  }

  /**
   * Produce-to-searchable latencies and bare-embed latencies of the same passages, and the hops between.
   *
   * @param overhead each probe's produce-to-searchable time minus the bare embedding of its passages: what the
   *     broker hops, the transactions, the materialiser and the reader refresh add
   * @param chunkHop produce call until the last of the probe's passages is visible on {@code passages}
   *     (read_committed): the chunk stage's fetch, processing and transaction
   * @param embedHop from there until the last of its embeddings is visible on {@code embeddings}: the embed
   *     stage's fetch, batch wait, embedding and transaction
   * @param indexHop from there until all its passages are searchable: the materialiser's fetch, indexing and
   *     reader refresh (and the probe's 2 ms polling)
   */
  record Freshness(Percentiles searchable, Percentiles bareEmbed, Percentiles overhead, Percentiles chunkHop,
      Percentiles embedHop, Percentiles indexHop) {}

  /**
   * Produces {@code freshDocs} new documents one at a time; each is timed from just before the send until all its
   * passages are in the index. The bare embedding of each probe's passages is timed too, before it is sent.
   */
  private Freshness freshness(KafkaProducer<String, byte[]> producer, HopWatcher hops, QueryService service,
      Indexer indexer, Embedder embedder, Chunker chunker, List<CorpusDocument> documents)
      throws InterruptedException {
    return freshness(producer, hops, service, indexer, embedder, chunker, documents, freshDocs);
  }

  private Freshness freshness(KafkaProducer<String, byte[]> producer, HopWatcher hops, QueryService service,
      Indexer indexer, Embedder embedder, Chunker chunker, List<CorpusDocument> documents, int probes)
      throws InterruptedException {
    String run = Long.toString(System.nanoTime(), 36);
    long version = System.currentTimeMillis();
    long[] searchable = new long[probes];
    long[] bare = new long[probes];
    List<Long> chunkHop = new ArrayList<>();
    List<Long> embedHop = new ArrayList<>();
    List<Long> indexHop = new ArrayList<>();
    for (int i = 0; i < probes; i++) {
      String id = "bench-fresh-" + run + "-" + i;
      String title = "Freshness probe " + i;
      String body = "Freshness probe " + i + " of bench run " + run + ". "
          + snippet(documents.get(i % documents.size()).text());
      Map<String, String> passages = passageTexts(id, title, body, chunker);
      long embedStart = System.nanoTime();
      embedder.embed(List.copyOf(passages.values()));
      bare[i] = System.nanoTime() - embedStart;

      DocumentEvent event = DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle(title)
          .setBody(body).setUrl(null).setVersion(version).setTs(Instant.now()).setAttributes(Map.of()).build();
      long start = System.nanoTime();
      try {
        producer.send(new ProducerRecord<>(Topics.DOCUMENTS, id, Topics.documentSerde().encode(event))).get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("sending to " + Topics.DOCUMENTS + " failed: " + e.getCause().getMessage(),
            e.getCause());
      }
      List<Map.Entry<String, String>> pending = new ArrayList<>();
      passages.forEach((pid, text) -> pending.add(Map.entry(pid, TextHash.sha256(text))));
      while (true) {
        long now = System.nanoTime();
        pending.removeIf(e -> present(service.index(), e.getKey(), e.getValue()));
        if (pending.isEmpty()) {
          searchable[i] = now - start;
          long chunked = hops.lastOf(Topics.PASSAGES, passages.keySet());
          long embedded = hops.lastOf(Topics.EMBEDDINGS, passages.keySet());
          if (chunked > 0 && embedded > 0) {
            chunkHop.add(chunked - start);
            embedHop.add(embedded - chunked);
            indexHop.add(now - embedded);
          }
          break;
        }
        if (now - start > FRESHNESS_TIMEOUT.toNanos()) {
          throw new IllegalStateException("document " + id + " was not searchable within "
              + FRESHNESS_TIMEOUT.toSeconds() + " s");
        }
        checkAlive(service, indexer);
        Thread.sleep(2);
      }
    }
    long[] overhead = new long[probes];
    for (int i = 0; i < probes; i++) {
      overhead[i] = searchable[i] - bare[i];
    }
    return new Freshness(Percentiles.of(searchable), Percentiles.of(bare), Percentiles.of(overhead),
        hopPercentiles(chunkHop), hopPercentiles(embedHop), hopPercentiles(indexHop));
  }

  /** Percentiles of the probes the hop watcher saw (all, unless its consumer lagged); null when none. */
  private static Percentiles hopPercentiles(List<Long> nanos) {
    return nanos.isEmpty() ? null : Percentiles.of(nanos.stream().mapToLong(Long::longValue).toArray());
  }

  /** About the first 400 characters of a text, cut at a space. */
  private static String snippet(String text) {
    if (text.length() <= 400) {
      return text;
    }
    int cut = text.lastIndexOf(' ', 400);
    return text.substring(0, cut > 0 ? cut : 400);
  }

  /**
   * Each query in every mode, the modes interleaved query by query (so a passing disturbance of the machine falls on
   * all of them alike).
   */
  private static Map<RetrievalMode, Percentiles> searchByMode(SearchService search, List<String> queries,
      boolean rerank) {
    RetrievalMode[] modes = RetrievalMode.values();
    for (String q : queries.subList(0, Math.min(WARMUP_QUERIES, queries.size()))) {
      for (RetrievalMode mode : modes) {
        search.search(SearchRequest.of(q, K).withMode(mode).withRerank(rerank));
      }
    }
    long[][] nanos = new long[modes.length][queries.size()];
    for (int i = 0; i < queries.size(); i++) {
      for (int j = 0; j < modes.length; j++) {
        RetrievalMode mode = modes[(i + j) % modes.length];
        long start = System.nanoTime();
        search.search(SearchRequest.of(queries.get(i), K).withMode(mode).withRerank(rerank));
        nanos[mode.ordinal()][i] = System.nanoTime() - start;
      }
    }
    Map<RetrievalMode, Percentiles> byMode = new EnumMap<>(RetrievalMode.class);
    for (RetrievalMode mode : modes) {
      byMode.put(mode, Percentiles.of(nanos[mode.ordinal()]));
    }
    return byMode;
  }

  /**
   * Each stage timer (the query service's own metrics) as its mean and its median, and the impression's send, which
   * runs off the request path; in the order a search runs them. The median is read from the timer's histogram (the
   * upper bound of the bucket holding it), so a slow first call (class loading, JIT) does not move it as it moves
   * the mean.
   */
  static String stageBreakdown(io.micrometer.core.instrument.MeterRegistry registry) {
    List<String> order = List.of("parse", "tokenize", "encode", "pool", "vector", "keyword", "fuse", "read", "rerank",
        "stored", "serialize");
    StringBuilder out = new StringBuilder();
    for (String stage : order) {
      io.micrometer.core.instrument.Timer t = registry.find("d2search.search.stage").tag("stage", stage).timer();
      if (t != null && t.count() > 0) {
        out.append(out.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%s %.3f (p50 ≤ %.3f)", stage,
            t.mean(java.util.concurrent.TimeUnit.MILLISECONDS), medianBound(t)));
      }
    }
    io.micrometer.core.instrument.Timer send = registry.find("d2search.events.send").timer();
    if (send != null && send.count() > 0) {
      out.append(String.format(Locale.ROOT, "; off the request path: impression send %.3f",
          send.mean(java.util.concurrent.TimeUnit.MILLISECONDS)));
    }
    return out.toString();
  }

  /** The upper bound (ms) of the histogram bucket that holds a timer's median; its mean if it has no histogram. */
  static double medianBound(io.micrometer.core.instrument.Timer timer) {
    var snapshot = timer.takeSnapshot();
    double half = snapshot.count() / 2.0;
    // Cumulative counts at each bucket's upper bound, as Prometheus reads them.
    for (var bucket : snapshot.histogramCounts()) {
      if (bucket.count() >= half) {
        return bucket.bucket(java.util.concurrent.TimeUnit.MILLISECONDS);
      }
    }
    return timer.mean(java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private static Percentiles searchOverHttp(HttpClient http, URI uri, List<String> queries)
      throws IOException, InterruptedException {
    for (String q : queries.subList(0, Math.min(WARMUP_QUERIES, queries.size()))) {
      post(http, uri, q);
    }
    long[] nanos = new long[queries.size()];
    for (int i = 0; i < nanos.length; i++) {
      long start = System.nanoTime();
      post(http, uri, queries.get(i));
      nanos[i] = System.nanoTime() - start;
    }
    return Percentiles.of(nanos);
  }

  private static void post(HttpClient http, URI uri, String query) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(Map.of("query", query, "k", K))))
        .build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException("POST " + uri + " answered " + response.statusCode() + ": " + response.body());
    }
  }

  /** Latencies of HNSW and exact search over the same vectors, and the mean recall of HNSW against exact. */
  record HnswQuality(Percentiles hnsw, Percentiles exact, double recall) {}

  private static HnswQuality hnswQuality(PassageIndex index, List<float[]> vectors) {
    for (float[] v : vectors.subList(0, Math.min(WARMUP_QUERIES, vectors.size()))) {
      index.search(v, K);
      index.searchExact(v, K);
    }
    long[] hnswNanos = new long[vectors.size()];
    long[] exactNanos = new long[vectors.size()];
    double recallSum = 0;
    for (int i = 0; i < vectors.size(); i++) {
      long start = System.nanoTime();
      List<Hit> approx = index.search(vectors.get(i), K);
      long mid = System.nanoTime();
      List<Hit> exact = index.searchExact(vectors.get(i), K);
      exactNanos[i] = System.nanoTime() - mid;
      hnswNanos[i] = mid - start;
      recallSum += recall(approx, exact);
    }
    return new HnswQuality(Percentiles.of(hnswNanos), Percentiles.of(exactNanos), recallSum / vectors.size());
  }

  /** The share of the exact top k that the approximate top k found; 1 when the exact answer is empty. */
  static double recall(List<Hit> approx, List<Hit> exact) {
    if (exact.isEmpty()) {
      return 1;
    }
    Set<String> truth = new HashSet<>();
    exact.forEach(h -> truth.add(h.passageId()));
    long found = approx.stream().filter(h -> truth.contains(h.passageId())).count();
    return found / (double) exact.size();
  }

  // ---- helpers ----

  static boolean present(PassageIndex index, String passageId, String textHash) {
    Optional<StoredPassage> stored = index.get(passageId);
    return stored.isPresent() && stored.get().textHash().equals(textHash);
  }

  static void checkAlive(QueryService service, Indexer indexer) {
    if (indexer.state().stopped()) {
      throw new IllegalStateException("the indexer stopped: " + indexer.state());
    }
    Optional<Throwable> failure = service.materializer().failure();
    if (failure.isPresent()) {
      throw new IllegalStateException("the query service's materialiser failed: " + failure.get().getMessage(),
          failure.get());
    }
  }

  private static KafkaProducer<String, byte[]> producer(String bootstrapServers) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "d2search-bench");
    return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  private static double ms(long nanos) {
    return Percentiles.millis(nanos);
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          log.warn("Cannot delete {}: {}", p, e.getMessage());
        }
      });
    } catch (IOException | UncheckedIOException e) {
      log.warn("Cannot delete {}: {}", dir, e.getMessage());
    }
  }

  /**
   * The result table's rows, in order.
   *
   * @param rows measure → value
   */
  /**
   * @param rows measure → value, as printed
   * @param latencyMs search latency p50 and p99 in ms, by what was measured (each mode in process, HTTP), for plots
   */
  public record Report(Map<String, String> rows, Map<String, double[]> latencyMs) {
    Report() {
      this(new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    void add(String measure, String value) {
      rows.put(measure, value);
    }

    void latency(String what, Percentiles p) {
      latencyMs.put(what, new double[] {ms(p.p50()), ms(p.p99())});
    }

    /** The table in Markdown. */
    public String markdown() {
      StringBuilder sb = new StringBuilder("| measure | value |\n|---|---|\n");
      rows.forEach((m, v) -> sb.append("| ").append(m).append(" | ").append(v.replace("|", "\\|")).append(" |\n"));
      return sb.toString();
    }
  }
}
