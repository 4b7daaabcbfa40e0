package io.d2search.bench.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.app.Components;
import io.d2search.app.TopicSetup;
import io.d2search.bench.ServiceProcess;
import io.d2search.broker.EmbeddedKafka;
import io.d2search.config.Settings;
import io.d2search.events.DocumentOp;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.PassageIndex;
import io.d2search.ingest.CorpusDocument;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryServiceConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
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

/**
 * The fault-injection suite: the indexer and the query service in JVMs of their own against a KRaft broker, under a
 * continuous stream of document changes (creations, updates, deletes) and searches, while faults strike at seeded
 * random points: {@code kill -9} of the indexer or of the query service (restarted after a pause, their data
 * directories kept, as an orchestrator restarts a container with its volume) and a broker restart. Afterwards the
 * query service's index is compared with the index of a clean run of the same changes: every passage there exactly
 * once, with the same text and vector (cosine ≥ {@value #SAME_VECTOR}), nothing else; the embeddings topic
 * holds no committed duplicate; nothing valid was dead-lettered; no search answered 5xx.
 *
 * <p>Recovery time of a fault: from the fault until a document sent after it is searchable (ingestion and search
 * both back). Searches that get no answer while the query service is down are the killed replica's own and counted
 * apart.
 */
public final class FaultInjection {
  /** Vectors of the same passage computed in other batches differ in the last bits, never more. */
  static final double SAME_VECTOR = 0.9999;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What goes wrong. */
  public enum Fault {
    INDEXER_KILL("kill -9 indexer"), QUERY_SERVICE_KILL("kill -9 query service"), BROKER_RESTART("broker restart");

    private final String label;

    Fault(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** A run: a name and the faults it injects, in order (none: the clean run). */
  public record Scenario(String name, List<Fault> faults) {
    public Scenario {
      Objects.requireNonNull(name, "name");
      faults = List.copyOf(faults);
    }

    /** {@code count} faults of one kind. */
    public static Scenario of(Fault fault, int count) {
      return new Scenario(fault.label(), java.util.Collections.nCopies(count, fault));
    }
  }

  /**
   * @param workDir where each scenario's broker, data directories and logs go (kept for inspection)
   * @param corpus the documents created, in order
   * @param updateShare chance, after each creation, that an earlier document is updated
   * @param deleteShare chance, after each creation, that an earlier document is deleted
   * @param changesPerSecond the pace of changes
   * @param downtime how long a killed service stays down, and a broker restart lasts
   * @param settleTimeout how long the services may take to catch up after the last change
   * @param seed seeds the changes and where the faults strike
   * @param staticMembership whether the indexer runs with {@code indexer.instance-id} (as deploy/k8s runs it)
   */
  public record Options(Path workDir, List<CorpusDocument> corpus, double updateShare, double deleteShare,
      double changesPerSecond, Duration downtime, Duration settleTimeout, long seed, boolean staticMembership) {
    public Options {
      Objects.requireNonNull(workDir, "workDir");
      corpus = List.copyOf(corpus);
      if (corpus.size() < 4 || !(changesPerSecond > 0)) {
        throw new IllegalArgumentException("a fault-injection run needs >= 4 documents and a positive pace");
      }
    }
  }

  /**
   * One scenario's figures, against the clean run's index.
   *
   * @param expectedPassages passages in the clean run's index
   * @param lost passages of the clean index missing here
   * @param extra passages here the clean index lacks (a resurrected delete, a stale passage)
   * @param duplicated passages held more than once here, counted once per extra copy
   * @param mismatched passages here with another text or vector than the clean index's
   * @param duplicateCommits committed embeddings records beyond the first for one passage version
   * @param deadLettered records on the documents' dead-letter topic (every change sent is valid)
   * @param unansweredWhileDown searches with no answer while the query service was down (its own)
   * @param unansweredWhileUp searches with no answer while it ran
   * @param recoverySeconds per fault, from the fault until a document sent after it was searchable
   * @param settled whether the services caught up within the settle timeout
   */
  public record Outcome(String scenario, int faults, int changes, int documents, int expectedPassages,
      int indexedPassages, int lost, int extra, int duplicated, int mismatched, long duplicateCommits,
      long deadLettered, long searches, long serverErrors, long unansweredWhileDown, long unansweredWhileUp,
      List<Double> recoverySeconds, boolean settled) {

    /** Whether the index equals the clean run's and nothing was lost, doubled, dead-lettered or answered 5xx. */
    public boolean clean() {
      return settled && lost == 0 && extra == 0 && duplicated == 0 && mismatched == 0 && duplicateCommits == 0
          && deadLettered == 0 && serverErrors == 0 && unansweredWhileUp == 0;
    }
  }

  /** What an index holds: each passage's id in index order (duplicates kept) and its content. */
  record Snapshot(List<String> ids, Map<String, Content> content) { }

  record Content(String textHash, long docVersion, float[] vector) { }

  private final Options options;
  private final ChangeLog changes;
  private final Consumer<String> progress;

  public FaultInjection(Options options, Consumer<String> progress) {
    this.options = Objects.requireNonNull(options, "options");
    this.changes = ChangeLog.plan(options.corpus(), options.updateShare(), options.deleteShare(), options.seed());
    this.progress = Objects.requireNonNull(progress, "progress");
  }

  /** Runs the clean run, then each scenario; returns the clean run's figures first. */
  public List<Outcome> run(List<Scenario> scenarios) throws Exception {
    List<Outcome> outcomes = new ArrayList<>();
    Snapshot[] reference = new Snapshot[1];
    outcomes.add(runScenario(new Scenario("clean run", List.of()), null, s -> reference[0] = s));
    for (Scenario scenario : scenarios) {
      outcomes.add(runScenario(scenario, reference[0], s -> { }));
    }
    return outcomes;
  }

  private Outcome runScenario(Scenario scenario, Snapshot reference, Consumer<Snapshot> keep) throws Exception {
    Path dir = options.workDir().resolve(scenario.name().replaceAll("[^A-Za-z0-9]+", "-"));
    Files.createDirectories(dir);
    int kafkaPort = freePort();
    progress.accept(scenario.name() + ": " + changes.changes().size() + " changes to " + changes.documents()
        + " documents, faults " + scenario.faults().stream().map(Fault::label).toList() + "; logs in " + dir);
    EmbeddedKafka[] broker = {EmbeddedKafka.start(dir.resolve("kafka"), kafkaPort)};
    try {
      Settings s = Settings.defaults().with("kafka.bootstrap.servers", broker[0].bootstrapServers())
          .with("data.dir", dir.resolve("query-service").toString()).with("model.provider", "CPU");
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      int httpPort = freePort();
      int indexerPort = freePort();
      Path indexerConfig = ServiceProcess.writeConfig(dir.resolve("indexer.properties"), Map.of("kafka.bootstrap.servers",
          broker[0].bootstrapServers(), "data.dir", dir.resolve("indexer").toString(), "model.provider", "CPU",
          "indexer.metrics-port", String.valueOf(indexerPort),
          "indexer.instance-id", options.staticMembership() ? "indexer-0" : ""));
      Path queryConfig = ServiceProcess.writeConfig(dir.resolve("query-service.properties"), Map.of("kafka.bootstrap.servers",
          broker[0].bootstrapServers(), "data.dir", dir.resolve("query-service").toString(), "model.provider", "CPU",
          "http.port", String.valueOf(httpPort)));
      URI search = URI.create("http://127.0.0.1:" + httpPort);
      URI indexerHealth = URI.create("http://127.0.0.1:" + indexerPort + "/health");
      try (ServiceProcess indexer = new ServiceProcess("indexer", indexerConfig, dir.resolve("indexer.log"));
          ServiceProcess queries = new ServiceProcess("query-service", queryConfig, dir.resolve("query-service.log"));
          KafkaProducer<String, byte[]> producer = producer(broker[0].bootstrapServers())) {
        indexer.start();
        queries.start();
        awaitOk(search.resolve("/health"), Duration.ofMinutes(3), "the query service ready", queries);
        awaitOk(indexerHealth, Duration.ofMinutes(3), "the indexer ready", indexer);

        AtomicBoolean queriesDown = new AtomicBoolean(false);
        Searcher searcher = new Searcher(search, options.corpus(), queriesDown);
        AtomicInteger sent = new AtomicInteger();
        List<Double> recoveries = new java.util.concurrent.CopyOnWriteArrayList<>();
        Set<String> kept = changes.neverDeleted();
        Random random = new Random(options.seed() ^ scenario.name().hashCode());
        int n = changes.changes().size();
        List<Integer> strikeAt = new ArrayList<>();
        for (int k = 0; k < scenario.faults().size(); k++) {
          // Spread over the first 80% of the changes, each at a random point of its own stretch.
          double stretch = 0.8 * n / scenario.faults().size();
          strikeAt.add((int) (k * stretch + random.nextDouble() * stretch * 0.8));
        }
        Thread faults = new Thread(() -> {
          try {
            for (int k = 0; k < scenario.faults().size(); k++) {
              while (sent.get() < strikeAt.get(k)) {
                Thread.sleep(20);
              }
              Fault fault = scenario.faults().get(k);
              long at = System.nanoTime();
              progress.accept(String.format(Locale.ROOT, "%s: %s after change %d of %d", scenario.name(),
                  fault.label(), sent.get(), n));
              switch (fault) {
                case INDEXER_KILL -> {
                  indexer.kill();
                  Thread.sleep(options.downtime().toMillis());
                  indexer.start();
                }
                case QUERY_SERVICE_KILL -> {
                  queriesDown.set(true);
                  queries.kill();
                  Thread.sleep(options.downtime().toMillis());
                  queries.start();
                }
                case BROKER_RESTART -> {
                  broker[0].close();
                  Thread.sleep(options.downtime().toMillis());
                  broker[0] = EmbeddedKafka.start(dir.resolve("kafka"), kafkaPort);
                }
              }
              int after = sent.get();
              double seconds = awaitNewDocumentSearchable(search, indexerHealth, after, kept, sent, at,
                  queriesDown);
              recoveries.add(seconds);
              progress.accept(String.format(Locale.ROOT, "%s: recovered in %.1f s", scenario.name(), seconds));
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          } catch (Exception e) {
            progress.accept(scenario.name() + ": fault injection failed: " + e);
          }
        }, "fault-injection");
        faults.start();
        send(producer, sent);
        faults.join();
        boolean settled = settle(search, indexerHealth);
        searcher.stop();
        queries.stop();
        indexer.stop();
        Snapshot snapshot = snapshot(s);
        keep.accept(snapshot);
        Snapshot truth = reference == null ? snapshot : reference;
        long duplicateCommits = duplicateCommits(broker[0].bootstrapServers());
        long deadLettered = count(broker[0].bootstrapServers(), Topics.DOCUMENTS_DLQ);
        Outcome outcome = compare(scenario, truth, snapshot, duplicateCommits, deadLettered, searcher, recoveries,
            settled);
        progress.accept(describe(outcome));
        return outcome;
      }
    } finally {
      broker[0].close();
    }
  }

  /** Sends every change at the pace asked for; a broker away makes sends wait, never fail (idempotent, acks=all). */
  private void send(KafkaProducer<String, byte[]> producer, AtomicInteger sent) throws Exception {
    long start = System.nanoTime();
    List<java.util.concurrent.Future<?>> pending = new ArrayList<>();
    for (ChangeLog.Change c : changes.changes()) {
      long due = start + (long) (sent.get() / options.changesPerSecond() * 1e9);
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
      pending.add(producer.send(new ProducerRecord<>(Topics.DOCUMENTS, c.id(),
          Topics.documentSerde().encode(c.event()))));
      sent.incrementAndGet();
    }
    producer.flush();
    for (java.util.concurrent.Future<?> f : pending) {
      f.get(); // a change that never reached the broker would make the comparison meaningless
    }
  }

  /**
   * From the fault until the first kept document created or updated after change {@code after} is searchable; when
   * no change is left, until both services are healthy again (the indexer with no lag).
   */
  private double awaitNewDocumentSearchable(URI search, URI indexerHealth, int after, Set<String> kept,
      AtomicInteger sent, long faultAt, AtomicBoolean queriesDown) throws Exception {
    List<ChangeLog.Change> all = changes.changes();
    int probe = -1;
    for (int i = after; i < all.size(); i++) {
      if (all.get(i).op() == DocumentOp.UPSERT && kept.contains(all.get(i).id())) {
        probe = i;
        break;
      }
    }
    long deadline = System.nanoTime() + options.settleTimeout().toNanos();
    if (probe < 0) {
      // No change left to probe with: back once both services are healthy (the indexer with nothing left to do).
      awaitOk(indexerHealth, options.settleTimeout(), "the indexer caught up", null);
      awaitOk(search.resolve("/health"), options.settleTimeout(), "the query service back", null);
      queriesDown.set(false);
      return (System.nanoTime() - faultAt) / 1e9;
    }
    while (sent.get() <= probe) {
      Thread.sleep(20);
    }
    ChangeLog.Change change = all.get(probe);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    String body = JSON.writeValueAsString(Map.of("query", change.title() == null ? change.id() : change.title(),
        "k", 1, "mode", "vector", "rerank", false, "filter", Map.of(ChangeLog.KEY, change.id())));
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(search.resolve("/search"))
            .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          queriesDown.set(false);
          JsonNode results = JSON.readTree(r.body()).path("results");
          if (!results.isEmpty() && results.get(0).path("docId").asText().equals(change.id())) {
            return (System.nanoTime() - faultAt) / 1e9;
          }
        }
      } catch (IOException e) {
        // down still
      }
      Thread.sleep(100);
    }
    return Double.NaN;
  }

  /** Until the indexer and the query service are healthy (no lag) and the index size holds still for 5 s. */
  private boolean settle(URI search, URI indexerHealth) throws Exception {
    long deadline = System.nanoTime() + options.settleTimeout().toNanos();
    long lastSize = -1;
    long stableSince = System.nanoTime();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    while (System.nanoTime() < deadline) {
      try {
        boolean healthy = status(http, indexerHealth) == 200 && status(http, search.resolve("/health")) == 200;
        long size = JSON.readTree(http.send(HttpRequest.newBuilder(search.resolve("/models")).build(),
            HttpResponse.BodyHandlers.ofString()).body()).path("index").path("passages").asLong(-1);
        if (!healthy || size != lastSize) {
          lastSize = size;
          stableSince = System.nanoTime();
        } else if (System.nanoTime() - stableSince > 5_000_000_000L) {
          return true;
        }
      } catch (IOException e) {
        stableSince = System.nanoTime();
      }
      Thread.sleep(250);
    }
    return false;
  }

  /** The stopped query service's index, read from its directory. */
  private static Snapshot snapshot(Settings s) {
    QueryServiceConfig config = Components.queryService(s);
    List<String> ids = new ArrayList<>();
    Map<String, Content> content = new HashMap<>();
    String version = Components.serviceBundle(s).version();
    try (PassageIndex index = PassageIndex.open(config.indexDirFor(version), version, config.index())) {
      index.forEachPassage(p -> {
        ids.add(p.passageId());
        content.put(p.passageId(), new Content(p.textHash(), p.docVersion(),
            index.vector(p.passageId()).orElse(new float[0])));
      });
    }
    return new Snapshot(ids, content);
  }

  private Outcome compare(Scenario scenario, Snapshot truth, Snapshot run, long duplicateCommits, long deadLettered,
      Searcher searcher, List<Double> recoveries, boolean settled) {
    Set<String> distinct = new HashSet<>(run.ids());
    int lost = 0;
    int mismatched = 0;
    for (Map.Entry<String, Content> e : truth.content().entrySet()) {
      Content here = run.content().get(e.getKey());
      if (here == null) {
        lost++;
      } else if (!here.textHash().equals(e.getValue().textHash())
          || cosine(here.vector(), e.getValue().vector()) < SAME_VECTOR) {
        // Not the document version: a passage an update left unchanged keeps the version it was embedded from,
        // the older or the newer one depending on whether both sat in one embedding batch (timing, not loss).
        if (mismatched++ < 5) {
          progress.accept(String.format(Locale.ROOT, "%s: %s differs from the clean run: version %d (clean %d), "
              + "text %s, vector cosine %.6f", scenario.name(), e.getKey(), here.docVersion(),
              e.getValue().docVersion(), here.textHash().equals(e.getValue().textHash()) ? "same" : "other",
              cosine(here.vector(), e.getValue().vector())));
        }
      }
    }
    int extra = (int) distinct.stream().filter(id -> !truth.content().containsKey(id)).count();
    return new Outcome(scenario.name(), scenario.faults().size(), changes.changes().size(), changes.documents(),
        truth.content().size(), run.ids().size(),
        lost, extra, run.ids().size() - distinct.size(), mismatched, duplicateCommits, deadLettered,
        searcher.searches.get(), searcher.serverErrors.get(), searcher.unansweredWhileDown.get(),
        searcher.unansweredWhileUp.get(), List.copyOf(recoveries), settled);
  }

  static double cosine(float[] a, float[] b) {
    if (a.length != b.length || a.length == 0) {
      return 0;
    }
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  /** Committed embeddings records beyond the first for the same passage, version and text. */
  private static long duplicateCommits(String bootstrap) {
    Map<String, Integer> seen = new HashMap<>();
    long[] duplicates = {0};
    read(bootstrap, Topics.EMBEDDINGS, r -> {
      if (r.value() != null) {
        PassageEmbedding e = Topics.embeddingSerde().decode(r.value());
        if (seen.merge(r.key() + "@" + e.getDocVersion() + "@" + e.getTextHash(), 1, Integer::sum) > 1) {
          duplicates[0]++;
        }
      }
    });
    return duplicates[0];
  }

  private static long count(String bootstrap, String topic) {
    long[] n = {0};
    read(bootstrap, topic, r -> n[0]++);
    return n[0];
  }

  /** Every committed record of a topic, from the beginning to its end now. */
  private static void read(String bootstrap, String topic, Consumer<ConsumerRecord<String, byte[]>> action) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
          .map(i -> new TopicPartition(topic, i.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))
          && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(action);
      }
    }
  }

  private static KafkaProducer<String, byte[]> producer(String bootstrap) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 600_000);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 600_000);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "d2search-chaos");
    return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  private static int status(HttpClient http, URI uri) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private static void awaitOk(URI uri, Duration timeout, String what, ServiceProcess process) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (process != null && !process.alive()) {
        throw new IllegalStateException(process.role() + " exited; the end of " + process.log() + ":\n"
            + process.tail(15));
      }
      try {
        if (status(http, uri) == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException(what + " within " + timeout + " (" + uri + ")"
        + (process == null ? "" : "; see " + process.log()));
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** One line of figures. */
  public static String describe(Outcome o) {
    return String.format(Locale.ROOT, "%s: %d passages of %d expected, lost %d, extra %d, duplicated %d, "
        + "mismatched %d, duplicate commits %d, dead-lettered %d; %d searches, %d 5xx, %d unanswered while the "
        + "query service was down, %d while up; recovery %s%s", o.scenario(), o.indexedPassages(),
        o.expectedPassages(), o.lost(), o.extra(), o.duplicated(), o.mismatched(), o.duplicateCommits(),
        o.deadLettered(), o.searches(), o.serverErrors(), o.unansweredWhileDown(), o.unansweredWhileUp(),
        recovery(o.recoverySeconds()), o.settled() ? "" : "; DID NOT SETTLE");
  }

  private static String recovery(List<Double> seconds) {
    if (seconds.isEmpty()) {
      return "-";
    }
    double mean = seconds.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    double max = seconds.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    return String.format(Locale.ROOT, "%.1f / %.1f s", mean, max);
  }

  /** The figures as a Markdown table, one row per scenario. */
  public String table(List<Outcome> outcomes) {
    StringBuilder t = new StringBuilder();
    t.append(String.format(Locale.ROOT, "%d changes (%d documents created, then updated or deleted) at %.1f/s; "
        + "faults %d s down; indexer %s membership%n%n", changes.changes().size(), changes.documents(),
        options.changesPerSecond(), options.downtime().toSeconds(), options.staticMembership() ? "static" : "dynamic"));
    t.append("| scenario | faults | passages (clean run) | lost | extra | duplicated | other text or vector | "
        + "duplicate commits | dead-lettered | searches | 5xx | unanswered: replica down / up | recovery s mean / "
        + "max | settled |\n");
    t.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Outcome o : outcomes) {
      t.append(String.format(Locale.ROOT, "| %s | %d | %d (%d) | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d | "
          + "%s | %s |%n", o.scenario(), o.faults(), o.indexedPassages(), o.expectedPassages(), o.lost(), o.extra(),
          o.duplicated(), o.mismatched(), o.duplicateCommits(), o.deadLettered(), o.searches(), o.serverErrors(),
          o.unansweredWhileDown(), o.unansweredWhileUp(), recovery(o.recoverySeconds()).replace(" s", ""),
          o.settled() ? "yes" : "**no**"));
    }
    return t.toString();
  }

  /** Searches titles of the corpus over HTTP, five a second, until stopped; counts what comes back. */
  static final class Searcher {
    final AtomicLong searches = new AtomicLong();
    final AtomicLong serverErrors = new AtomicLong();
    final AtomicLong unansweredWhileDown = new AtomicLong();
    final AtomicLong unansweredWhileUp = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    Searcher(URI base, List<CorpusDocument> corpus, AtomicBoolean down) {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      thread = new Thread(() -> {
        for (int i = 0; running.get(); i++) {
          CorpusDocument d = corpus.get(i % corpus.size());
          boolean wasDown = down.get();
          try {
            String body = JSON.writeValueAsString(Map.of("query", d.title().isEmpty() ? d.id() : d.title(),
                "k", 5));
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(base.resolve("/search"))
                .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
            searches.incrementAndGet();
            if (r.statusCode() >= 500) {
              serverErrors.incrementAndGet();
            }
          } catch (IOException e) {
            searches.incrementAndGet();
            (wasDown || down.get() ? unansweredWhileDown : unansweredWhileUp).incrementAndGet();
          } catch (InterruptedException e) {
            return;
          }
          try {
            Thread.sleep(200);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "fault-injection-searcher");
      thread.start();
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(15_000);
    }
  }
}
