package io.d2search.loop;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.distill.DistillRun;
import io.d2search.embed.Embedder;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.events.TrainingExample;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.IndexConfig;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.PassageIndex;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The distiller service: the retraining loop's second stage. It follows {@code training-pairs} (the feedback join's
 * examples), {@code model-releases} (what serves, and the canary) and the embeddings topic the current release
 * ranks with ({@code embeddings}, or a FULL release's {@code embeddings.<version>}: a replica of the serving index,
 * which follows the release between refreshes), and every {@code refreshEveryExamples} new examples, or every
 * {@code refreshInterval} when any arrived, or on {@link #refreshNow()}, runs a {@link Refresh} in the background: one
 * at a time, on bounded threads, so ingestion and search never wait for it. A candidate the {@link ReleaseGate}
 * passes is moved into the bundle store and published on {@code model-releases}: a HEADS one as the canary (judged
 * online by the {@link CanaryJudge}, then promoted to CURRENT or rolled back), a FULL one as CURRENT; a refused one
 * stays in {@code <state>/candidates/} for inspection, and the current release keeps serving.
 *
 * <p><b>State and crashes.</b> The feedback is the {@code training-pairs} topic itself, re-read from its beginning
 * at start (its retention is the replay window); the distiller's own state is {@code <state>/refreshes.jsonl}, one
 * {@link RefreshReport} per refresh, from which it knows how much feedback the last refresh saw. Bundles are written
 * to a temporary directory and renamed, then moved into the store, then published: a crash at any point leaves no
 * partial bundle visible, at worst a complete bundle that was never released, and the next refresh takes the next
 * version number. Canary decisions are appended to {@code <state>/canaries.jsonl}.
 *
 * <p><b>Metrics</b>: {@code d2search.distiller.refreshes} (tag {@code decision}), {@code
 * d2search.distiller.refresh} (timer), gauges {@code d2search.distiller.feedback.lists}, {@code
 * d2search.distiller.feedback.new} and {@code d2search.distiller.refresh.running}.
 *
 * <p>Thread-safe.
 */
public final class DistillerService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DistillerService.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String VERSION_PREFIX = "loop-";
  private static final Pattern LOOP_VERSION = Pattern.compile(Pattern.quote(VERSION_PREFIX) + "(\\d+)");
  private static final int REPORTS_SHOWN = 20;

  /**
   * What {@code /status} shows.
   *
   * @param serving the release that serves (the parent of the next refresh)
   * @param embeddingVersion the version of the index's passage vectors
   * @param passages passages in the replica index
   * @param caughtUp whether the replica and the feedback have been read up to where they were at start
   * @param feedbackLists distinct feedback lists held
   * @param feedbackReceived examples read from {@code training-pairs}
   * @param newFeedback examples read since the last refresh started
   * @param running the version a refresh is training now; null when none runs
   * @param reports the latest refresh reports, newest last
   * @param canary the canary being judged now; null when none
   * @param canaries the latest canary decisions, newest last
   */
  public record Status(String serving, String embeddingVersion, int passages, boolean caughtUp, int feedbackLists,
      long feedbackReceived, long newFeedback, String running, List<RefreshReport> reports, LiveCanary canary,
      List<CanaryReport> canaries) {}

  /**
   * The canary being judged: its interleaving evidence so far.
   *
   * @param version the canary
   * @param current the model it is interleaved with
   * @param wins interleaved searches whose clicks favoured the canary
   * @param losses ... the current model
   * @param ties ... neither
   * @param pValue the sign test's two-sided p-value so far
   */
  public record LiveCanary(String version, String current, long wins, long losses, long ties, double pValue) {}

  private final DistillerConfig config;
  private final DirectoryBundleStore store;
  private final Refresh refresh;
  private final Embedder embedder;
  private final ModelBundle base;
  private final IndexConfig indexConfig;
  private final String bootstrap;
  private final Map<String, String> clientProps = new HashMap<>();
  /** The replica of the vectors the current release ranks with; replaced when a FULL release changes them. */
  private volatile Replica replica;
  private final FeedbackStore feedback = new FeedbackStore();
  private final TopicReader feedbackReader;
  private final TopicReader releaseReader;
  private final KafkaProducer<String, byte[]> producer;
  private final ScheduledExecutorService scheduler;
  private final java.util.concurrent.ExecutorService worker;
  private final AtomicReference<ModelRelease> current = new AtomicReference<>();
  /** The canary release live on {@code model-releases}; null when none. */
  private final AtomicReference<ModelRelease> canary = new AtomicReference<>();
  private final CanaryJudge judge = new CanaryJudge();
  private final Deque<CanaryReport> canaryReports = new ArrayDeque<>();
  private final Path canariesFile;
  private final AtomicReference<String> running = new AtomicReference<>();
  private final Deque<RefreshReport> reports = new ArrayDeque<>();
  private final Path reportsFile;
  private final MeterRegistry registry;
  private final Timer refreshTimer;
  private volatile long receivedAtLastRefresh;
  private volatile long lastRefreshAt;
  private volatile CompletableFuture<RefreshReport> inFlight;

  /**
   * Starts following the topics; refreshes start on their own from then on.
   *
   * @param config the service's settings
   * @param ranking how the query service ranks (the gate ranks the same way)
   * @param kafka client properties: bootstrap servers and any security settings
   * @param base the bundle of the index's passage vectors ({@code model.version}): the parent until a release exists
   * @param embedder its embedder; the caller closes it after this service
   * @param indexConfig the replica index's HNSW and attribute settings (the query service's)
   * @param teacher opens the teacher that labels each refresh's pairs
   * @param registry where the service's metrics go
   */
  public static DistillerService start(DistillerConfig config, RankingSetup ranking, Map<String, Object> kafka,
      ModelBundle base, Embedder embedder, IndexConfig indexConfig, DistillRun.TeacherSource teacher,
      MeterRegistry registry) {
    return new DistillerService(config, new Refresh(config, ranking, teacher), kafka, base, embedder, indexConfig,
        registry);
  }

  private DistillerService(DistillerConfig config, Refresh refresh, Map<String, Object> kafka, ModelBundle base,
      Embedder embedder, IndexConfig indexConfig, MeterRegistry registry) {
    this.config = Objects.requireNonNull(config, "config");
    this.store = new DirectoryBundleStore(config.bundlesDir());
    this.refresh = refresh;
    this.base = Objects.requireNonNull(base, "base");
    this.embedder = Objects.requireNonNull(embedder, "embedder");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.reportsFile = config.stateDir().resolve("refreshes.jsonl");
    this.canariesFile = config.stateDir().resolve("canaries.jsonl");
    try {
      Files.createDirectories(config.stateDir());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot create " + config.stateDir(), e);
    }
    // The interval counts from start when there was no refresh yet: a first example must not trigger one at once.
    this.lastRefreshAt = System.currentTimeMillis();
    restoreReports();
    restoreCanaryReports();
    this.bootstrap = String.valueOf(kafka.get(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG));
    this.indexConfig = Objects.requireNonNull(indexConfig, "indexConfig");
    kafka.forEach((k, v) -> clientProps.put(k, String.valueOf(v)));
    clientProps.remove(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG);
    this.replica = openReplica(Topics.EMBEDDINGS, base, embedder, false);
    this.feedbackReader = new TopicReader(kafka, Topics.TRAINING_PAIRS, "d2search-distiller-feedback", r -> {
      TrainingExample e = Topics.trainingExampleSerde().decode(r.value());
      judge.add(e);
      FeedbackList list = FeedbackList.of(e);
      if (list != null) {
        feedback.add(list);
      }
    });
    this.releaseReader = new TopicReader(kafka, Topics.MODEL_RELEASES, "d2search-distiller-releases", r -> {
      if (r.value() == null) {
        if (Topics.CANARY_RELEASE.equals(r.key())) {
          canary.set(null); // promoted or rolled back
        }
        return;
      }
      ModelRelease release = Topics.modelReleaseSerde().decode(r.value());
      if (!verifies(release)) {
        return; // as the query services do: the last good release stays current, and refreshes go on from it
      }
      if (release.getStage() == ReleaseStage.CURRENT) {
        current.set(release);
      } else if (release.getStage() == ReleaseStage.CANARY) {
        canary.set(release);
      }
    });
    Map<String, Object> p = new HashMap<>(kafka);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "d2search-distiller-releases");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    this.refreshTimer = Timer.builder("d2search.distiller.refresh").description("Refresh duration")
        .register(registry);
    Gauge.builder("d2search.distiller.feedback.lists", feedback, FeedbackStore::size)
        .description("Distinct feedback lists held").register(registry);
    Gauge.builder("d2search.distiller.feedback.new", this, s -> s.feedback.received() - s.receivedAtLastRefresh)
        .description("Examples read since the last refresh").register(registry);
    Gauge.builder("d2search.distiller.refresh.running", running, r -> r.get() == null ? 0 : 1)
        .description("1 while a refresh runs").register(registry);
    feedbackReader.start();
    releaseReader.start();
    this.worker = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "d2search-distiller-refresh");
      t.setDaemon(true);
      t.setPriority(Thread.MIN_PRIORITY);
      return t;
    });
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "d2search-distiller-trigger");
      t.setDaemon(true);
      return t;
    });
    scheduler.scheduleWithFixedDelay(this::maybeRefresh, 2, 2, TimeUnit.SECONDS);
    log.info("Distiller following {} over index {} (refresh every {} examples or {}), releases to {}",
        Topics.TRAINING_PAIRS, base.version(), config.refreshEveryExamples(), config.refreshInterval(),
        config.bundlesDir());
  }

  /**
   * The replica of one vectors topic: what negatives are mined from and the gate ranks on.
   *
   * @param topic the embeddings topic it materialises
   * @param bundle a bundle that embeds passages as the topic's vectors were embedded (its version may differ: a HEADS
   *     release over them)
   * @param embedder embeds queries (and, for training, the backbone's token states) into that space
   * @param ownsEmbedder whether closing the replica closes the embedder (not the caller's base one)
   */
  private record Replica(String topic, ModelBundle bundle, Embedder embedder, PassageIndex index,
      EmbeddingsMaterializer materializer, boolean ownsEmbedder) {
    void close() {
      materializer.close();
      index.close();
      if (ownsEmbedder) {
        embedder.close();
      }
    }
  }

  private Replica openReplica(String topic, ModelBundle bundle, Embedder queries, boolean owns) {
    String version = queries.info().version();
    PassageIndex index = PassageIndex.open(config.stateDir().resolve("index").resolve(version), version, indexConfig);
    try {
      // Its own registry: the replica's meters would collide with a query service's of the same names in one JVM.
      EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, MaterializerConfig.defaults(bootstrap)
          .withTopic(topic).withKafkaProperties(clientProps), new SimpleMeterRegistry());
      return new Replica(topic, bundle, queries, index, materializer, owns);
    } catch (RuntimeException e) {
      index.close();
      throw e;
    }
  }

  /**
   * Whether a release's bundle is in the store with the release's checksum. One that is not is refused here as the
   * query services refuse it (a WARN line, {@code d2search.distiller.releases.refused}): trained from or gated
   * against, it would fail every refresh until the next good release.
   */
  private boolean verifies(ModelRelease release) {
    if (release.getVersion().equals(base.version())) {
      return true;
    }
    try {
      store.open(URI.create(release.getBundleUri()), release.getSha256());
      return true;
    } catch (RuntimeException e) {
      log.warn("Refused model release {} ({} {}): {}; {} stays current", release.getVersion(), release.getKind(),
          release.getStage(), e.getMessage(), current.get() == null ? base.version() : current.get().getVersion());
      Counter.builder("d2search.distiller.releases.refused").description("Model releases whose bundle did not verify")
          .register(registry).increment();
      return false;
    }
  }

  /**
   * Follows the current release's vectors: when it ranks over another embeddings topic than the replica's (a FULL
   * release, or a roll-back to {@code embeddings}), a replica of that topic replaces this one. Only between
   * refreshes (a release whose bundle does not verify never becomes current here).
   */
  private void followReleaseVectors() {
    ModelRelease release = current.get();
    String topic = release == null ? Topics.EMBEDDINGS : release.getEmbeddingsTopic();
    Replica old = replica;
    if (topic.equals(old.topic())) {
      return;
    }
    Replica next;
    if (topic.equals(Topics.EMBEDDINGS)) {
      next = openReplica(topic, base, embedder, false);
    } else {
      ModelBundle bundle = store.open(URI.create(release.getBundleUri()), release.getSha256());
      Embedder queries = bundle.embedder(embedder.config(), Topics.versionOfEmbeddingsTopic(topic));
      try {
        next = openReplica(topic, bundle, queries, true);
      } catch (RuntimeException e) {
        queries.close();
        throw e;
      }
    }
    replica = next;
    old.close();
    log.info("Replica now follows {} (release {}), in place of {}", topic, release == null ? base.version()
        : release.getVersion(), old.topic());
  }

  /** Waits until the replica index, the feedback and the releases have been read up to where they were at start. */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    return replica.materializer().awaitCaughtUp(timeout)
        && feedbackReader.awaitCaughtUp(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))
        && releaseReader.awaitCaughtUp(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }

  private boolean caughtUp() {
    return replica.materializer().caughtUp() && feedbackReader.caughtUp() && releaseReader.caughtUp();
  }

  private void maybeRefresh() {
    try {
      if (running.get() != null || !feedbackReader.caughtUp() || !releaseReader.caughtUp()) {
        return;
      }
      synchronized (this) { // refreshNow starts refreshes under the same lock: never a switch under a refresh
        if (running.get() == null) {
          followReleaseVectors();
        }
      }
      if (!caughtUp()) {
        return;
      }
      if (canary.get() != null) {
        judgeCanary(); // one canary at a time: no refresh while one is judged
        return;
      }
      long fresh = feedback.received() - receivedAtLastRefresh;
      boolean due = fresh >= config.refreshEveryExamples() || (fresh > 0
          && System.currentTimeMillis() - lastRefreshAt >= config.refreshInterval().toMillis());
      if (due) {
        refreshNow();
      }
    } catch (RuntimeException e) {
      log.error("Refresh trigger failed", e);
    }
  }

  /** Starts a refresh of the configured kind ({@code distiller.refresh.kind}) now; see {@link #refreshNow(ReleaseKind)}. */
  public CompletableFuture<RefreshReport> refreshNow() {
    return refreshNow(config.kind());
  }

  /**
   * Starts a refresh now, unless one runs: then the running one's future, whatever its kind. Operators call it
   * through {@code POST /refresh[?kind=heads|full]}: a FULL refresh now and then (its vectors must be re-embedded)
   * while the periodic ones train the IEM head alone.
   *
   * @param kind what the refresh trains: the IEM head, or the PMA head too
   * @return completes with the refresh's report (never exceptionally: a failure is a FAILED report)
   */
  public synchronized CompletableFuture<RefreshReport> refreshNow(ReleaseKind kind) {
    Objects.requireNonNull(kind, "kind");
    if (running.get() != null && inFlight != null) {
      return inFlight;
    }
    String version = nextVersion();
    running.set(version);
    inFlight = CompletableFuture.supplyAsync(() -> runRefresh(version, kind), worker);
    return inFlight;
  }

  private RefreshReport runRefresh(String version, ReleaseKind kind) {
    long started = System.currentTimeMillis();
    long received = feedback.received();
    List<FeedbackList> lists = feedback.snapshot();
    ModelRelease release = current.get();
    String parentVersion = release == null ? base.version() : release.getVersion();
    RefreshReport report;
    Timer.Sample sample = Timer.start(registry);
    try {
      ModelRelease live = canary.get();
      if (live != null) {
        // One canary at a time: its verdict is on the current model, which a second candidate would not share.
        report = new RefreshReport(version, parentVersion, started, 0, received, 0, 0, 0,
            RefreshReport.Decision.SKIPPED, "canary " + live.getVersion() + " is being judged", Map.of());
        record(report);
        running.set(null);
        return report;
      }
      Replica space = replica;
      String topic = release == null ? Topics.EMBEDDINGS : release.getEmbeddingsTopic();
      if (!topic.equals(space.topic())) {
        // Training and gating over other vectors than the current release ranks with would judge a candidate on
        // vectors it will never rank; the replica follows the release between refreshes.
        report = new RefreshReport(version, parentVersion, started, 0, received, 0, 0, 0,
            RefreshReport.Decision.SKIPPED, "the current release " + parentVersion + " ranks over " + topic
                + "; the replica still holds " + space.topic() + " (it follows between refreshes)", Map.of());
        record(report);
        running.set(null);
        return report;
      }
      ModelBundle parent = parent(release, space);
      Path out = config.stateDir().resolve("candidates").resolve(version);
      Refresh.Outcome outcome = refresh.run(parent, space.embedder(), space.index(), lists, version, out, kind);
      double seconds = (System.currentTimeMillis() - started) / 1000.0;
      if (outcome.candidate() == null) {
        report = new RefreshReport(version, parentVersion, started, seconds, received, outcome.trainLists(),
            outcome.validationLists(), outcome.heldOutLists(), RefreshReport.Decision.SKIPPED, outcome.skipped(),
            Map.of());
      } else if (!outcome.passed()) {
        report = new RefreshReport(version, parentVersion, started, seconds, received, outcome.trainLists(),
            outcome.validationLists(), outcome.heldOutLists(), RefreshReport.Decision.REJECTED, outcome.reason(),
            outcome.metrics());
      } else {
        publish(outcome.candidate(), parentVersion, outcome, space);
        report = new RefreshReport(version, parentVersion, started, (System.currentTimeMillis() - started) / 1000.0,
            received, outcome.trainLists(), outcome.validationLists(), outcome.heldOutLists(),
            RefreshReport.Decision.RELEASED, outcome.reason(), outcome.metrics());
      }
    } catch (RuntimeException | Error e) {
      log.error("Refresh {} failed", version, e);
      report = new RefreshReport(version, parentVersion, started, (System.currentTimeMillis() - started) / 1000.0,
          received, 0, 0, 0, RefreshReport.Decision.FAILED, String.valueOf(e), Map.of());
    } finally {
      sample.stop(refreshTimer);
    }
    record(report);
    running.set(null);
    return report;
  }

  /**
   * The current release's bundle, verified against the release's checksum (the base bundle before any release); it
   * must embed passages as the replica's vectors were embedded.
   */
  private ModelBundle parent(ModelRelease release, Replica space) {
    if (release == null || release.getVersion().equals(base.version())) {
      return base;
    }
    ModelBundle bundle = store.open(URI.create(release.getBundleUri()), release.getSha256());
    if (!bundle.passageVectorsId().equals(space.bundle().passageVectorsId())) {
      throw new IllegalStateException("the current release " + release.getVersion() + " embeds passages unlike "
          + space.bundle().version() + ", whose vectors the replica of " + space.topic() + " holds");
    }
    return bundle;
  }

  /** Moves the candidate into the bundle store, then publishes it as the current release. */
  private void publish(ModelBundle candidate, String parentVersion, Refresh.Outcome verdict, Replica space) {
    Path target = store.dirOf(candidate.version());
    try {
      Files.createDirectories(config.bundlesDir());
      try {
        Files.move(candidate.directory(), target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        // Another file system: copy beside the target, then rename there, so readers never see half a bundle.
        Path staging = config.bundlesDir().resolve("." + candidate.version() + ".tmp-" + System.nanoTime());
        copyTree(candidate.directory(), staging);
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot move " + candidate.directory() + " into the bundle store", e);
    }
    // Verifies what readers will load, as they will load it.
    ModelBundle stored = store.open(store.uriOf(candidate.version()), candidate.checksum());
    Map<String, Double> metrics = new HashMap<>(verdict.metrics());
    // The bundle says what it is: the same passage vectors as the index's (HEADS) or other ones (FULL).
    ReleaseKind kind = stored.passageVectorsId().equals(space.bundle().passageVectorsId()) ? ReleaseKind.HEADS
        : ReleaseKind.FULL;
    // Interleaving needs both rankings over one index: a FULL release skips the canary.
    boolean asCanary = config.canary().enabled() && kind == ReleaseKind.HEADS;
    ModelRelease release = ModelRelease.newBuilder().setVersion(stored.version()).setParentVersion(parentVersion)
        .setBundleUri(store.uriOf(stored.version()).toString()).setSha256(stored.checksum())
        .setKind(kind).setStage(asCanary ? ReleaseStage.CANARY : ReleaseStage.CURRENT)
        .setEmbeddingsTopic(kind == ReleaseKind.HEADS ? space.topic() : Topics.embeddingsTopicOf(stored.version()))
        .setMetrics(metrics).setTs(Instant.now()).build();
    send(asCanary ? Topics.CANARY_RELEASE : Topics.CURRENT_RELEASE, release);
    if (asCanary) {
      canary.set(release);
    } else {
      current.set(release);
    }
    log.info("Released {} ({}, from {}){}: {}", stored.version(), kind, parentVersion,
        asCanary ? " as the canary" : "", verdict.reason());
  }

  /** Sends a release (null: a tombstone) under a stage's key and waits for the broker's acknowledgement. */
  private void send(String key, ModelRelease release) {
    try {
      producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, key,
          release == null ? null : Topics.modelReleaseSerde().encode(release))).get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Publishing " + (release == null ? "a tombstone" : release.getVersion())
          + " under " + key + " failed", e);
    }
  }

  /**
   * Applies the {@link CanaryJudge}'s verdict on the live canary: promotes it (published as the current release,
   * then the canary key tombstoned), rolls it back (the key tombstoned), or waits. A canary already current (a
   * promotion cut short by a crash) is only tombstoned.
   */
  private void judgeCanary() {
    ModelRelease live = canary.get();
    ModelRelease serving = current.get();
    String currentVersion = serving == null ? base.version() : serving.getVersion();
    if (live.getVersion().equals(currentVersion)) {
      send(Topics.CANARY_RELEASE, null);
      canary.set(null);
      return;
    }
    CanaryJudge.Verdict verdict = judge.judge(live.getVersion(), currentVersion, config.canary());
    if (verdict.decision() == CanaryJudge.Decision.CONTINUE) {
      return;
    }
    if (verdict.decision() == CanaryJudge.Decision.PROMOTE) {
      Map<String, Double> metrics = new HashMap<>(live.getMetrics());
      metrics.put("canary.wins", (double) verdict.tally().wins());
      metrics.put("canary.losses", (double) verdict.tally().losses());
      metrics.put("canary.ties", (double) verdict.tally().ties());
      metrics.put("canary.p", verdict.pValue());
      ModelRelease promoted = ModelRelease.newBuilder(live).setStage(ReleaseStage.CURRENT).setMetrics(metrics)
          .setTs(Instant.now()).build();
      send(Topics.CURRENT_RELEASE, promoted);
      current.set(promoted);
    }
    send(Topics.CANARY_RELEASE, null);
    canary.set(null);
    CanaryReport report = new CanaryReport(live.getVersion(), currentVersion,
        verdict.decision() == CanaryJudge.Decision.PROMOTE ? CanaryReport.Decision.PROMOTED
            : CanaryReport.Decision.ROLLED_BACK,
        verdict.tally().wins(), verdict.tally().losses(), verdict.tally().ties(), verdict.pValue(), verdict.reason(),
        System.currentTimeMillis());
    log.info("{}", report.describe());
    Counter.builder("d2search.distiller.canary.decisions").tag("decision", report.decision().name().toLowerCase())
        .description("Canary releases promoted or rolled back").register(registry).increment();
    keepLatest(canaryReports, report);
    appendJsonLine(canariesFile, report);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
  }

  /** One above the highest loop version among the store's bundles, the candidates and the reports. */
  private String nextVersion() {
    int max = 0;
    for (Path dir : List.of(config.bundlesDir(), config.stateDir().resolve("candidates"))) {
      if (Files.isDirectory(dir)) {
        try (Stream<Path> entries = Files.list(dir)) {
          for (Path e : entries.toList()) {
            max = Math.max(max, loopNumber(e.getFileName().toString()));
          }
        } catch (IOException e) {
          throw new UncheckedIOException("Cannot list " + dir, e);
        }
      }
    }
    synchronized (reports) {
      for (RefreshReport r : reports) {
        max = Math.max(max, loopNumber(r.version()));
      }
    }
    return VERSION_PREFIX + (max + 1);
  }

  private static int loopNumber(String name) {
    Matcher m = LOOP_VERSION.matcher(name);
    return m.matches() ? Integer.parseInt(m.group(1)) : 0;
  }

  private void record(RefreshReport report) {
    log.info(report.describe());
    Counter.builder("d2search.distiller.refreshes").tag("decision", report.decision().name().toLowerCase())
        .description("Refreshes by decision").register(registry).increment();
    receivedAtLastRefresh = report.feedbackReceived();
    lastRefreshAt = report.startedAt();
    keepLatest(reports, report);
    appendJsonLine(reportsFile, report);
  }

  private void restoreReports() {
    readJsonLines(reportsFile, RefreshReport.class, r -> {
      keepLatest(reports, r);
      receivedAtLastRefresh = r.feedbackReceived();
      lastRefreshAt = r.startedAt();
    });
  }

  private void restoreCanaryReports() {
    readJsonLines(canariesFile, CanaryReport.class, r -> keepLatest(canaryReports, r));
  }

  /** Adds to a list of the latest {@value #REPORTS_SHOWN} reports. */
  private static <T> void keepLatest(Deque<T> latest, T report) {
    synchronized (latest) {
      latest.addLast(report);
      while (latest.size() > REPORTS_SHOWN) {
        latest.removeFirst();
      }
    }
  }

  /** Each line of a JSON-lines file as a record; an unreadable line (a crash while appending) is skipped. */
  private static <T> void readJsonLines(Path file, Class<T> type, java.util.function.Consumer<T> each) {
    if (!Files.exists(file)) {
      return;
    }
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        T value;
        try {
          value = JSON.readValue(line, type);
        } catch (IOException e) {
          log.warn("Ignoring an unreadable line of {} (a crash while appending?): {}", file, e.getMessage());
          continue;
        }
        each.accept(value);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + file, e);
    }
  }

  /** Appends one record as a JSON line, synced: what a restart reads back. */
  private static void appendJsonLine(Path file, Object value) {
    try {
      Files.writeString(file, JSON.writeValueAsString(value) + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.SYNC);
    } catch (IOException e) {
      log.warn("Cannot append to {}: {}", file, e.toString());
    }
  }

  /** Where the service stands. */
  public Status status() {
    ModelRelease release = current.get();
    List<RefreshReport> shown;
    synchronized (reports) {
      shown = new ArrayList<>(reports);
    }
    String serving = release == null ? base.version() : release.getVersion();
    ModelRelease live = canary.get();
    LiveCanary liveCanary = null;
    if (live != null) {
      CanaryJudge.Tally t = judge.tally(live.getVersion(), serving);
      liveCanary = new LiveCanary(live.getVersion(), serving, t.wins(), t.losses(), t.ties(), t.pValue());
    }
    List<CanaryReport> decided;
    synchronized (canaryReports) {
      decided = new ArrayList<>(canaryReports);
    }
    Replica space = replica;
    return new Status(serving, space.embedder().info().version(), space.index().size(), caughtUp(), feedback.size(),
        feedback.received(),
        feedback.received() - receivedAtLastRefresh, running.get(), shown, liveCanary, decided);
  }

  /** Stops triggering, lets a running refresh finish (bounded wait), stops reading, closes the replica. */
  @Override
  public void close() {
    scheduler.shutdownNow();
    worker.shutdown();
    try {
      if (!worker.awaitTermination(30, TimeUnit.SECONDS)) {
        log.warn("A refresh is still running; closing without it (its candidate, if any, stays unreleased)");
        worker.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    feedbackReader.close();
    releaseReader.close();
    producer.close(Duration.ofSeconds(5));
    replica.close();
  }
}
