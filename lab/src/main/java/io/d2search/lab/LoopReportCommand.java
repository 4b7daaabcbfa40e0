package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.app.Lifecycle;
import io.d2search.app.TopicSetup;
import io.d2search.bench.ClickSimulator;
import io.d2search.bench.ServiceProcess;
import io.d2search.broker.EmbeddedKafka;
import io.d2search.bundle.ModelBundle;
import io.d2search.config.Settings;
import io.d2search.data.BeirDataset;
import io.d2search.data.VectorCache;
import io.d2search.distill.CorpusVectors;
import io.d2search.distill.TokenStateCache;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.RankingMetrics;
import io.d2search.events.PassageEmbedding;
import io.d2search.feedback.FeedbackJob;
import io.d2search.index.Filter;
import io.d2search.index.PassageRanker;
import io.d2search.index.PassageSearcher;
import io.d2search.loop.DistillerConfig;
import io.d2search.loop.DistillerService;
import io.d2search.loop.RankingSetup;
import io.d2search.loop.RefreshReport;
import io.d2search.rank.IemHead;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import io.d2search.serve.RankedHit;
import io.d2search.serve.SearchRequest;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code loop-report}: the retraining loop on a BEIR set, end to end in one JVM, measured. An embedded broker, the
 * query service (following {@code model-releases}), the feedback join and the distiller run as in the demo; the
 * corpus' whole documents are indexed through {@code embeddings} with the base model's vectors. Each round,
 * simulated users search and click a fresh slice of the training split's judged queries over HTTP; the feedback
 * join turns that into examples; the distiller refreshes, gates and maybe releases; the query service adopts what
 * is released. Before the first round and after each, the model that serves is measured on the test split's
 * judgements, which nothing trains on: nDCG@10 on all test queries and on those whose relevant documents no clicked
 * query had as relevant ("unseen"). Prints a table; writes it as Markdown and a PNG plot when asked.
 */
@Command(name = "loop-report", mixinStandardHelpOptions = true,
    description = "Run the retraining loop on a BEIR set (train queries click, test qrels judge) for some rounds and "
        + "report nDCG@10 per served model version, the gate's decisions and the time from click to release.")
final class LoopReportCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Mixin CacheOptions caches;

  @Option(names = "--beir", required = true, paramLabel = "DIR", description = "BEIR dataset directory.")
  Path beir;

  @Option(names = "--rounds", defaultValue = "3", description = "Rounds of clicks and refresh (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--queries-per-round", defaultValue = "250",
      description = "Training-split queries searched and clicked per round, each query once over the whole run "
          + "(default: ${DEFAULT-VALUE}).")
  int queriesPerRound;

  @Option(names = "--users-per-query", defaultValue = "1",
      description = "Simulated users who search each query of a round, each clicking on their own (default: "
          + "${DEFAULT-VALUE}).")
  int usersPerQuery;

  @Option(names = "--extra-refreshes", split = ",", paramLabel = "KIND",
      description = "After the rounds, one more refresh of each kind (heads, full) over the same feedback, with the "
          + "teacher's cache warm: what each costs alone, e.g. --extra-refreshes heads,full.")
  List<io.d2search.events.ReleaseKind> extraRefreshes = List.of();

  @Option(names = "--seed", defaultValue = "0", description = "Seeds the simulated users.")
  long seed;

  @Option(names = "--judged-gate", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "The gate also judges on the train split's held-out judged queries (default: ${DEFAULT-VALUE}).")
  boolean judgedGate;

  @Option(names = "--markdown", paramLabel = "FILE.md", description = "Also write the table as Markdown.")
  Path markdown;

  @Option(names = "--plot", paramLabel = "FILE.png", description = "Also plot nDCG@10 per round.")
  Path plot;

  @Option(names = "--probe-rate", defaultValue = "10", paramLabel = "PER_SECOND",
      description = "Searches per second of the latency probe, idle and during each refresh; 0 = back to back, which "
          + "saturates a small machine and measures an overload (default: ${DEFAULT-VALUE}).")
  double probeRate;

  @Option(names = "--distiller-process", defaultValue = "false", negatable = true, fallbackValue = "true",
      description = "Run the distiller in a JVM of its own, as deploy/ does, with --distiller-heap and "
          + "--distiller-nice: its peak memory is then its own and search does not share its priority "
          + "(default: ${DEFAULT-VALUE}, inside this JVM).")
  boolean distillerProcess;

  @Option(names = "--distiller-heap", defaultValue = "4g", paramLabel = "SIZE",
      description = "The distiller JVM's -Xmx with --distiller-process (default: ${DEFAULT-VALUE}).")
  String distillerHeap;

  @Option(names = "--distiller-nice", defaultValue = "10", paramLabel = "N",
      description = "The distiller JVM's niceness with --distiller-process, 0-19 (default: ${DEFAULT-VALUE}).")
  int distillerNice;

  /** One row: the model serving after a round (round 0: before any). */
  record Row(int round, int queries, int clicks, int feedbackLists, RefreshReport refresh, Double candidateNdcg,
      String serving, double ndcgAll, double ndcgUnseen, int unseenQueries, Double clickToReleaseSeconds,
      Latency idle, Latency duringRefresh, io.d2search.events.ReleaseKind kind, double peakResidentGb) {
    /** This row with what was measured around its refresh. */
    Row withRefresh(io.d2search.events.ReleaseKind refreshKind, Latency idleLatency, Latency refreshLatency,
        double peakGb) {
      return new Row(round, queries, clicks, feedbackLists, refresh, candidateNdcg, serving, ndcgAll, ndcgUnseen,
          unseenQueries, clickToReleaseSeconds, idleLatency, refreshLatency, refreshKind, peakGb);
    }
  }

  /** Search latency over HTTP, in ms, over {@code searches} searches. */
  record Latency(int searches, double p50, double p99) {
    static Latency of(List<Long> nanos) {
      long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
      if (sorted.length == 0) {
        return new Latency(0, Double.NaN, Double.NaN);
      }
      return new Latency(sorted.length, sorted[(int) Math.floor(0.5 * (sorted.length - 1))] / 1e6,
          sorted[(int) Math.ceil(0.99 * (sorted.length - 1))] / 1e6);
    }
  }

  /**
   * Searches the test queries over HTTP, one at a time at {@code perSecond} (0: back to back), until stopped: the
   * latency a user sees meanwhile.
   */
  private static final class Probe {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
        new com.fasterxml.jackson.databind.ObjectMapper();
    private final java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
    private final List<Long> nanos = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;

    Probe(URI base, List<String> queries, int limit, double perSecond) {
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      long interval = perSecond > 0 ? (long) (1e9 / perSecond) : 0;
      thread = new Thread(() -> {
        long next = System.nanoTime();
        for (int i = 0; running.get() && (limit <= 0 || i < limit); i++) {
          if (interval > 0) {
            long wait = next - System.nanoTime();
            if (wait > 0) {
              try {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
              } catch (InterruptedException e) {
                return;
              }
            }
            next += interval;
          }
          String body = "{\"query\": " + quote(queries.get(i % queries.size())) + ", \"k\": 10}";
          long start = System.nanoTime();
          try {
            http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/search"))
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
            nanos.add(System.nanoTime() - start);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "loop-report-probe");
      thread.start();
    }

    private static String quote(String text) {
      try {
        return JSON.writeValueAsString(text);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    /** Stops searching and returns the latencies so far. */
    Latency stop() throws InterruptedException {
      running.set(false);
      return finish();
    }

    /** Waits until the searches asked for are done. */
    Latency finish() throws InterruptedException {
      thread.join();
      return Latency.of(nanos);
    }

  }

  @Override
  public Integer call() throws Exception {
    Settings user = config.settings();
    CacheOptions.Dirs dirs = caches.dirs(user);
    Path run = Components.dataDir(user).resolve("loop-report").resolve(Instant.now().toString().replace(':', '-'));
    // Sessions close a few seconds after the last click, so a round's examples arrive within the round.
    Settings s = user.with("data.dir", run.toString()).with("http.port", 0).with("model.bundles-dir", "")
        .with("feedback.window-ms", 3000).with("feedback.grace-ms", 1000)
        // One simulated client sends every user's clicks: the per-client click limit would refuse most of them.
        .with("search.clicks-per-minute", 1_000_000)
        .with("distiller.refresh.every-examples", Integer.MAX_VALUE)
        .with("distiller.refresh.interval-ms", Long.MAX_VALUE / 4)
        .with("teacher.cache-dir", TeacherFactory.cacheDir(user).toAbsolutePath().toString())
        // The gate judges the train split's held-out slice too (never the test split, which this report judges).
        .with("distiller.gate.judged", judgedGate ? beir.toAbsolutePath().toString() : "")
        .with("distiller.gate.judged-split", "train")
        // The report measures the offline gate round by round: a passing candidate serves at once (no canary, whose
        // verdict would need the next rounds' clicks; LoopIT exercises the canary).
        .with("distiller.canary.enabled", false);
    BeirDataset train = BeirDataset.load(beir, "train");
    BeirDataset test = BeirDataset.load(beir, "test");
    List<EvalPassage> docs = EvalPassage.wholeDocs(train);
    DistillerConfig distiller = DistillerSettings.config(s);
    String memoryLabel = null;
    List<Row> rows = new ArrayList<>();
    try (Lifecycle life = new Lifecycle()) {
      EmbeddedKafka kafka = life.add(EmbeddedKafka.start(run.resolve("kafka"), 0));
      s = s.with("kafka.bootstrap.servers", kafka.bootstrapServers());
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      TopicSetup.forFeedback(s);
      ModelBundle base = Components.serviceBundle(s);
      Embedder embedder = life.add(Components.serviceEmbedder(s, base));
      publishEmbeddings(s, base, embedder, docs, dirs);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      QueryService service = life.add(Components.startQueryService(s, base, embedder, registry));
      FeedbackJob feedback = life.add(Components.feedback(s, registry));
      feedback.start();
      ReportDistiller loop = life.add(distiller(s, run));
      memoryLabel = loop.memoryLabel();
      if (!service.materializer().awaitCaughtUp(Duration.ofMinutes(10)) || !loop.awaitCaughtUp(Duration.ofMinutes(10))) {
        throw new IllegalStateException("the index did not catch up with embeddings in 10 minutes");
      }
      System.out.printf("loop-report: %d documents of %s indexed; %d rounds of %d training queries; run directory %s%n",
          docs.size(), BeirDataset.name(beir), rounds, queriesPerRound, run);

      List<String> trainIds = new ArrayList<>(train.qrels().keySet());
      trainIds.removeIf(q -> !train.queries().containsKey(q));
      java.util.Collections.shuffle(trainIds, new java.util.Random(seed));
      Set<String> clickedRelevant = new HashSet<>();
      int clicksSoFar = 0;
      rows.add(measure(0, 0, 0, 0, null, null, service, test, clickedRelevant, null));
      print(rows.get(0));
      ClickSimulator users = new ClickSimulator(URI.create("http://127.0.0.1:" + service.port()));
      for (int round = 1; round <= rounds; round++) {
        List<String> slice = trainIds.subList(Math.min(trainIds.size(), (round - 1) * queriesPerRound),
            Math.min(trainIds.size(), round * queriesPerRound));
        if (slice.isEmpty()) {
          System.out.printf("round %d: no training queries left%n", round);
          break;
        }
        Map<String, String> queries = new LinkedHashMap<>();
        Map<String, Map<String, Integer>> qrels = new HashMap<>();
        for (String q : slice) {
          queries.put(q, train.queries().get(q));
          qrels.put(q, train.qrels().get(q)); // the simulator judges a result by its document
          train.qrels().get(q).forEach((d, g) -> {
            if (g > 0) {
              clickedRelevant.add(d);
            }
          });
        }
        long roundStart = System.currentTimeMillis();
        ClickSimulator.Report clicks = null;
        for (int u = 0; u < usersPerQuery; u++) {
          ClickSimulator.Report one = users.run(new ClickSimulator.Plan(queries, qrels, 10, 1.0, 0.8, 0.05, 20,
              seed + round + 1000L * u, null), n -> { });
          clicks = clicks == null ? one : clicks.plus(one);
        }
        clicksSoFar += clicks.clicks();
        System.out.printf("round %d: %d searches, %d clicks (%d on relevant results, %d long), %d refused, %d failed%n",
            round, clicks.searches(), clicks.clicks(), clicks.relevantClicks(), clicks.longClicks(), clicks.refused(),
            clicks.failed());
        // Wait past the feedback window, then let searches move stream time on so the sessions close.
        Thread.sleep(s.longValue("feedback.window-ms") + s.longValue("feedback.grace-ms") + 1000);
        measure(round, 0, 0, 0, null, null, service, test, clickedRelevant, null);
        awaitFeedbackSettled(loop);
        Row row = refreshAndMeasure(new Round(round, clicks.searches(), clicksSoFar, roundStart, distiller.kind()), loop,
            service, embedder, s, distiller, test, clickedRelevant);
        rows.add(row);
        print(row);
      }
      // Refreshes over the same feedback, with the teacher's cache warm: what a refresh of each kind costs alone.
      int round = rows.getLast().round();
      for (io.d2search.events.ReleaseKind extra : extraRefreshes) {
        round++;
        Row row = refreshAndMeasure(new Round(round, 0, clicksSoFar, System.currentTimeMillis(), extra), loop,
            service, embedder, s, distiller, test, clickedRelevant);
        rows.add(row);
        print(row);
      }
    }
    String table = table(rows, memoryLabel);
    System.out.println();
    System.out.print(table);
    if (markdown != null) {
      Files.writeString(markdown, table);
    }
    if (plot != null) {
      plot(rows, plot);
    }
    return 0;
  }

  /** The distiller the report drives: in a JVM of its own with --distiller-process, else in this one. */
  private ReportDistiller distiller(Settings s, Path run) throws IOException {
    if (distillerProcess) {
      int port;
      try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
        port = socket.getLocalPort();
      }
      Path config = ReportDistiller.writeConfig(run, s.with("distiller.port", port).with("http.host", "127.0.0.1")
          .asMap());
      System.out.printf("loop-report: the distiller runs in a JVM of its own (-Xmx%s, nice %d); its log: %s%n",
          distillerHeap, distillerNice, config.resolveSibling("distiller.log"));
      return ReportDistiller.ownProcess(config, port, new ServiceProcess.Launch(LabMain.class.getName(),
          distillerHeap, distillerNice));
    }
    // The distiller process's own parts (embedder, teacher, bounded threads) in this JVM, its HTTP on a free port.
    return ReportDistiller.inProcess(DistillerProcess.start(s.with("distiller.port", 0).with("http.host", "127.0.0.1"),
        new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));
  }

  /** A round's refresh: what was clicked before it, and what it trains. */
  private record Round(int number, int searches, int clicksSoFar, long startedAt,
      io.d2search.events.ReleaseKind kind) { }

  /** Runs the round's refresh with search latency probed idle and meanwhile, and measures what serves after it. */
  private Row refreshAndMeasure(Round round, ReportDistiller loop, QueryService service, Embedder embedder,
      Settings s, DistillerConfig distiller, BeirDataset test, Set<String> clickedRelevant) throws Exception {
    // Search latency as users see it, idle and while the refresh trains (the budget: within 1.5x).
    List<String> probeQueries = new ArrayList<>(test.queries().values());
    Latency idle = new Probe(URI.create("http://127.0.0.1:" + service.port()), probeQueries, 300, probeRate)
        .finish();
    Probe busy = new Probe(URI.create("http://127.0.0.1:" + service.port()), probeQueries, 0, probeRate);
    RefreshReport report;
    Latency during;
    try {
      report = loop.refresh(round.kind(), Duration.ofHours(2));
    } finally {
      during = busy.stop();
    }
    boolean released = report.decision() == RefreshReport.Decision.RELEASED;
    Double clickToRelease = null;
    // A FULL release serves once an indexer has re-embedded the corpus, which this report does not run (bench
    // --full-release measures that): only a HEADS release is waited for.
    if (released && round.kind() == io.d2search.events.ReleaseKind.HEADS) {
      awaitServing(service, report.version());
      clickToRelease = (System.currentTimeMillis() - round.startedAt()) / 1000.0;
    }
    // What the gate decided about, measured where it cannot look: the candidate on the test split. A FULL candidate
    // ranks over vectors of its own, which this report does not build (the indexer would): not measured.
    Double candidate = null;
    Path candidateDir = released ? Components.bundlesDir(s).resolve(report.version())
        : distiller.stateDir().resolve("candidates").resolve(report.version());
    if ((released || report.decision() == RefreshReport.Decision.REJECTED)
        && round.kind() == io.d2search.events.ReleaseKind.HEADS) {
      candidate = testNdcg(service, embedder, DistillerSettings.ranking(s),
          ModelBundle.load(candidateDir).iem().orElseThrow(), test);
    }
    return measure(round.number(), round.searches(), round.clicksSoFar(), loop.status().feedbackLists(), report,
        candidate, service, test, clickedRelevant, clickToRelease).withRefresh(round.kind(), idle, during,
        loop.peakResidentGb());
  }

  /** This JVM's peak resident memory so far (VmHWM), in GB; NaN where /proc does not say. */
  static double peakResidentGb() {
    long bytes = ServiceProcess.peakResidentBytes(ProcessHandle.current().pid());
    return bytes < 0 ? Double.NaN : bytes / (1024.0 * 1024.0 * 1024.0);
  }

  /** Test-split nDCG@10 of what serves now, on all judged test queries and on the unseen ones. */
  private Row measure(int round, int queries, int clicks, int lists, RefreshReport refresh, Double candidate,
      QueryService service, BeirDataset test, Set<String> clickedRelevant, Double clickToRelease) {
    double all = 0;
    double unseen = 0;
    int n = 0;
    int u = 0;
    String serving = service.search().serving().version();
    for (Map.Entry<String, Map<String, Integer>> q : test.qrels().entrySet()) {
      String text = test.queries().get(q.getKey());
      if (text == null || q.getValue().values().stream().noneMatch(g -> g > 0)) {
        continue;
      }
      List<String> ranking = new ArrayList<>();
      for (RankedHit h : service.search().search(SearchRequest.of(text, 10)).hits()) {
        ranking.add(h.hit().docId());
      }
      double ndcg = RankingMetrics.ndcg(ranking, q.getValue(), 10);
      all += ndcg;
      n++;
      if (q.getValue().entrySet().stream().noneMatch(e -> e.getValue() > 0 && clickedRelevant.contains(e.getKey()))) {
        unseen += ndcg;
        u++;
      }
    }
    return new Row(round, queries, clicks, lists, refresh, candidate, serving, all / n,
        u == 0 ? Double.NaN : unseen / u, u, clickToRelease, null, null, null, Double.NaN);
  }

  /** Test-split nDCG@10 of a re-ranker over the service's index, ranked as the service ranks (no impressions). */
  private static double testNdcg(QueryService service, Embedder embedder, RankingSetup ranking, IemHead iem,
      BeirDataset test) {
    PassageRanker ranker = ranking.ranker(iem);
    double all = 0;
    int n = 0;
    try (PassageSearcher searcher = service.index().searcher()) {
      for (Map.Entry<String, Map<String, Integer>> q : test.qrels().entrySet()) {
        String text = test.queries().get(q.getKey());
        if (text == null || q.getValue().values().stream().noneMatch(g -> g > 0)) {
          continue;
        }
        PassageRanker.Query ask = new PassageRanker.Query(text, null, ranking.mode(), 10, Filter.NONE, true);
        if (ask.needsVector(ranker)) {
          ask = ask.withVector(embedder.embed(text));
        }
        List<String> docIds = searcher.hits(ranker.rank(searcher, ask).candidates()).stream()
            .map(io.d2search.index.Hit::docId).toList();
        all += RankingMetrics.ndcg(docIds, q.getValue(), 10);
        n++;
      }
    }
    return all / n;
  }

  /** The base model's vectors of every document (from the shared vector cache when there), onto embeddings. */
  private static void publishEmbeddings(Settings s, ModelBundle base, Embedder embedder, List<EvalPassage> docs,
      CacheOptions.Dirs dirs) throws Exception {
    List<String> texts = EvalPassage.texts(docs);
    float[][] vectors;
    try (VectorCache cache = VectorCache.open(dirs.vectors(), "bundle-" + base.checksum().substring(0, 16),
        embedder.info().dimension());
        TokenStateCache states = TokenStateCache.open(dirs.tokenStates(), embedder.info())) {
      vectors = CorpusVectors.of(texts, embedder, states, cache, "corpus vectors");
    }
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.string("kafka.bootstrap.servers"));
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
        new ByteArraySerializer())) {
      for (int i = 0; i < docs.size(); i++) {
        EvalPassage d = docs.get(i);
        List<Float> v = new ArrayList<>(vectors[i].length);
        for (float x : vectors[i]) {
          v.add(x);
        }
        producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, d.passageId(), Topics.embeddingSerde().encode(
            PassageEmbedding.newBuilder().setDocId(d.docId()).setN(d.n()).setModelVersion(base.version()).setVector(v)
                .setTextHash(TextHash.sha256(texts.get(i))).setTitle(d.title()).setText(d.text()).setDocVersion(1)
                .build())));
      }
      producer.flush();
    }
  }

  /** Until no new example arrived for 10 s (the feedback join commits every few hundred ms). */
  private static void awaitFeedbackSettled(ReportDistiller loop) throws Exception {
    long last = -1;
    long stableSince = System.currentTimeMillis();
    while (System.currentTimeMillis() - stableSince < 10_000) {
      long now = loop.status().feedbackReceived();
      if (now != last) {
        last = now;
        stableSince = System.currentTimeMillis();
      }
      Thread.sleep(500);
    }
  }

  private static void awaitServing(QueryService service, String version) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 120_000;
    while (!service.search().serving().version().equals(version)) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("the query service did not adopt release " + version + " in 2 minutes");
      }
      Thread.sleep(200);
    }
  }

  /** The round's line, with what was measured around its refresh: a run stopped early still reports it. */
  private static void print(Row r) {
    System.out.printf(Locale.ROOT, "round %d: serving %s, test nDCG@10 %.4f (unseen %.4f over %d)%s%s%n", r.round(),
        r.serving(), r.ndcgAll(), r.ndcgUnseen(), r.unseenQueries(),
        r.refresh() == null ? "" : "; " + r.refresh().describe(),
        r.idle() == null ? "" : String.format(Locale.ROOT, "; search p50/p99 ms idle %.1f/%.1f, during the refresh "
            + "%.1f/%.1f (%d searches); peak RSS %.1f GB", r.idle().p50(), r.idle().p99(),
            r.duringRefresh().p50(), r.duringRefresh().p99(), r.duringRefresh().searches(), r.peakResidentGb()));
  }

  static String table(List<Row> rows, String memoryLabel) {
    StringBuilder t = new StringBuilder();
    t.append("| round | queries clicked | clicks (total) | feedback lists | refresh | gate nDCG@10 current → candidate "
        + "[95% CI of gain] | candidate's test nDCG@10 | serving | test nDCG@10 all | unseen (n) | refresh s | "
        + "click → release s | search p50/p99 ms idle → during refresh | " + memoryLabel + " |\n");
    t.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      RefreshReport f = r.refresh();
      String gate = f == null || f.metrics().isEmpty() ? "" : gate(f.metrics(), "gate.", "feedback")
          + (f.metrics().containsKey("gate.judged.ndcg.current") ? "; " + gate(f.metrics(), "gate.judged.", "judged")
              : "");
      String latency = r.idle() == null ? "" : String.format(Locale.ROOT, "%.1f/%.1f → %.1f/%.1f (%d searches)",
          r.idle().p50(), r.idle().p99(), r.duringRefresh().p50(), r.duringRefresh().p99(),
          r.duringRefresh().searches());
      t.append(String.format(Locale.ROOT, "| %d | %d | %d | %d | %s | %s | %s | %s | %.4f | %.4f (%d) | %s | %s | %s | %s |%n",
          r.round(), r.queries(), r.clicks(), r.feedbackLists(), f == null ? "" : f.version() + " "
              + r.kind().name().toLowerCase(Locale.ROOT) + " " + f.decision().name().toLowerCase(Locale.ROOT), gate,
          r.candidateNdcg() == null ? "" : String.format(Locale.ROOT, "%.4f", r.candidateNdcg()), r.serving(), r.ndcgAll(), r.ndcgUnseen(),
          r.unseenQueries(), f == null ? "" : String.format(Locale.ROOT, "%.0f", f.seconds()),
          r.clickToReleaseSeconds() == null ? "" : String.format(Locale.ROOT, "%.0f", r.clickToReleaseSeconds()),
          latency, Double.isNaN(r.peakResidentGb()) ? "" : String.format(Locale.ROOT, "%.1f", r.peakResidentGb())));
    }
    return t.toString();
  }

  private static String gate(Map<String, Double> m, String prefix, String label) {
    return String.format(Locale.ROOT, "%s %.4f → %.4f [%+.4f, %+.4f]", label, m.get(prefix + "ndcg.current"),
        m.get(prefix + "ndcg.candidate"), m.get(prefix + "ndcg.diff.low"), m.get(prefix + "ndcg.diff.high"));
  }

  private static void plot(List<Row> rows, Path png) throws IOException {
    XYChart chart = new XYChartBuilder().width(900).height(560).title("Retraining loop: test nDCG@10 of the serving "
        + "model after each round").xAxisTitle("round").yAxisTitle("nDCG@10").build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    List<Integer> x = rows.stream().map(Row::round).toList();
    chart.addSeries("all test queries", x, rows.stream().map(Row::ndcgAll).toList());
    chart.addSeries("unseen test queries", x, rows.stream().map(Row::ndcgUnseen).toList());
    List<Row> judged = rows.stream().filter(r -> r.candidateNdcg() != null).toList();
    if (!judged.isEmpty()) {
      // What each refresh trained, released or not: where the gate's decision can be checked.
      chart.addSeries("each refresh's candidate, all test queries", judged.stream().map(Row::round).toList(),
          judged.stream().map(Row::candidateNdcg).toList());
    }
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
