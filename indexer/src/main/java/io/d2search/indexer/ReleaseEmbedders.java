package io.d2search.indexer;

import io.d2search.bundle.BundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.events.ModelRelease;
import io.d2search.schemas.ReleaseFollower;
import io.d2search.schemas.TopicAdmin;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The indexer's part in a FULL release: embeds every live passage again under the released model, into the
 * release's own topic {@code embeddings.<version>}, while the serving version's embedder goes on as before.
 *
 * <p>Each FULL version gets its own Kafka Streams application, {@code <prefix>-embedder-<version>}, running the same
 * {@link EmbedTopology} with the release's model, from the start of the compacted {@code passages} topic: it re-embeds
 * every live passage in topic order and then follows new passages and deletes like the serving embedder, all
 * exactly-once. Reading the same topic in the same order is what keeps a late re-embedding from overwriting a newer
 * passage or resurrecting a deleted one. The application's lag on {@code passages} is the re-embedding's progress
 * ({@code d2search.reembed.lag}, tag {@code version}); its embedder calls are throttled to
 * {@code indexer.reembed.max-rate} passages per second so the serving version keeps its freshness.
 *
 * <p>Which releases: a {@code CURRENT} release whose {@code embeddingsTopic} is not {@code embeddings} (a FULL
 * release, or a HEADS release over one, whose bundle embeds passages exactly as that FULL version). The indexer's own
 * model ({@code model.version}) always runs too, into {@code embeddings}: a query service starts on it and then
 * adopts the current release. When a newer FULL version has caught up with {@code passages} for
 * {@code indexer.reembed.retire-after-ms}, older FULL versions are retired: their application is stopped, its state,
 * consumer group and internal topics deleted, and its {@code embeddings.<version>} topic deleted (query services will
 * have switched to the newer one by then).
 *
 * <p>A bad release (missing or corrupt bundle, a topic that cannot be created) is one WARN line and changes nothing.
 * Thread-safe: the follower's thread applies releases, a scheduler retires; both hold the lock.
 */
public final class ReleaseEmbedders implements ReleaseFollower.Listener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReleaseEmbedders.class);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration RETIRE_CHECK = Duration.ofSeconds(5);
  /**
   * The longest one throttled batch may wait for the rate: the wait happens inside the task's open transaction, which
   * must commit well within {@link #TRANSACTION_TIMEOUT}.
   */
  static final Duration MAX_BATCH_WAIT = Duration.ofSeconds(15);
  /** The re-embedding applications' producer transaction timeout (Kafka Streams' exactly-once default is 10 s). */
  static final Duration TRANSACTION_TIMEOUT = Duration.ofSeconds(60);

  /**
   * How FULL releases are embedded.
   *
   * @param store where released bundles are opened
   * @param overrides batch size, threads and execution provider of each release's embedder
   * @param maxRate passages per second each release's embedder may embed, 0 for no limit
   * @param retireAfter how long a newer version must have kept up with {@code passages} before older ones go
   */
  public record Config(BundleStore store, EmbedderConfig overrides, double maxRate, Duration retireAfter) {
    public Config {
      Objects.requireNonNull(store, "store");
      Objects.requireNonNull(overrides, "overrides");
      Objects.requireNonNull(retireAfter, "retireAfter");
      new PassageRate(maxRate); // validates
    }
  }

  /** One FULL version being embedded. */
  private record Running(String version, String topic, String applicationId, KafkaStreams streams, Embedder embedder,
      Gauge lag) {}

  private final IndexerConfig indexer;
  private final Config config;
  private final MeterRegistry registry;
  private final int deadLetterMaxBytes;
  private final Admin admin;
  private final Map<String, Running> running = new LinkedHashMap<>(); // by version, oldest first
  private final ScheduledExecutorService retirer;
  /** The version of the latest CURRENT release's passage vectors, null while it is the indexer's own. */
  private String latest;
  /** When {@link #latest} was first seen caught up with {@code passages}; -1 while it is not. */
  private long latestCaughtUpSince = -1;
  private boolean closed;

  ReleaseEmbedders(IndexerConfig indexer, Config config, MeterRegistry registry, int deadLetterMaxBytes) {
    this.indexer = Objects.requireNonNull(indexer, "indexer");
    this.config = Objects.requireNonNull(config, "config");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.deadLetterMaxBytes = deadLetterMaxBytes;
    if (config.maxRate() > 0 && indexer.embedMaxBatch() / config.maxRate() > MAX_BATCH_WAIT.toSeconds()) {
      throw new IllegalArgumentException("indexer.reembed.max-rate " + config.maxRate() + " is too low for "
          + "embed.max-batch " + indexer.embedMaxBatch() + ": one batch would wait "
          + Math.round(indexer.embedMaxBatch() / config.maxRate()) + " s inside a transaction; use at least "
          + (double) indexer.embedMaxBatch() / MAX_BATCH_WAIT.toSeconds() + " (or 0 for no limit)");
    }
    this.admin = Admin.create(new StreamsConfig(Indexer.streamsConfig(indexer, indexer.embedderApplicationId()))
        .getAdminConfigs("d2search-releases"));
    this.retirer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "reembed-retirer");
      t.setDaemon(true);
      return t;
    });
    retirer.scheduleWithFixedDelay(this::retireIfDue, RETIRE_CHECK.toMillis(), RETIRE_CHECK.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** The application id of a FULL version's embedder. */
  public static String applicationId(IndexerConfig indexer, String version) {
    return indexer.embedderApplicationId() + "-" + version;
  }

  /** The FULL versions being embedded now, oldest first. */
  public synchronized List<String> versions() {
    return List.copyOf(running.keySet());
  }

  /** The state of a FULL version's application; empty when it is not running. */
  public synchronized java.util.Optional<KafkaStreams.State> state(String version) {
    Running r = running.get(version);
    return r == null ? java.util.Optional.empty() : java.util.Optional.of(r.streams().state());
  }

  /**
   * Passages on {@code passages} that a FULL version's embedder has not processed yet (committed offsets).
   *
   * @throws IllegalStateException if the broker cannot say
   */
  public long lag(String version) {
    return ConsumerLag.of(admin, applicationId(indexer, version), Topics.PASSAGES);
  }

  @Override
  public synchronized void current(ModelRelease release) {
    if (closed) {
      return;
    }
    String topic = release.getEmbeddingsTopic();
    if (Topics.EMBEDDINGS.equals(topic)) {
      latest = null;
      latestCaughtUpSince = -1;
      return; // the indexer's own model's vectors: embedded already
    }
    String version = Topics.versionOfEmbeddingsTopic(topic);
    if (version == null) {
      log.warn("Ignored model release {}: its embeddings topic {} is not {}<version>", release.getVersion(), topic,
          Topics.EMBEDDINGS_VERSION_PREFIX);
      return;
    }
    if (!running.containsKey(version)) {
      try {
        start(release, version, topic);
      } catch (RuntimeException e) {
        log.warn("Cannot embed passages for model release {} ({} {}): {}; its vectors stay as they are",
            release.getVersion(), release.getKind(), release.getBundleUri(), e.toString());
        return;
      }
    }
    if (!version.equals(latest)) {
      latest = version;
      latestCaughtUpSince = -1;
    }
  }

  private void start(ModelRelease release, String version, String topic) {
    ModelBundle bundle = config.store().open(URI.create(release.getBundleUri()), release.getSha256());
    if (!bundle.version().equals(release.getVersion())) {
      throw new IllegalArgumentException("bundle " + bundle.directory() + " is version " + bundle.version());
    }
    createTopic(topic);
    Embedder embedder = bundle.embedder(config.overrides(), version);
    String applicationId = applicationId(indexer, version);
    KafkaStreams streams;
    try {
      Topology topology = EmbedTopology.build(embedder, indexer.embedMaxBatch(), indexer.embedMaxWaitMs(), registry,
          deadLetterMaxBytes, topic, new PassageRate(config.maxRate()));
      java.util.Properties properties = Indexer.streamsConfig(indexer, applicationId);
      properties.put(UnproducibleRecordHandler.REGISTRY_CONFIG, registry);
      // A throttled batch waits inside the task's transaction: one batch per poll, so the thread commits between
      // batches, and a transaction timeout that outlasts the longest wait (MAX_BATCH_WAIT) with room to spare.
      properties.putIfAbsent(StreamsConfig.consumerPrefix(org.apache.kafka.clients.consumer.ConsumerConfig
          .MAX_POLL_RECORDS_CONFIG), indexer.embedMaxBatch());
      properties.putIfAbsent(StreamsConfig.producerPrefix(org.apache.kafka.clients.producer.ProducerConfig
          .TRANSACTION_TIMEOUT_CONFIG), (int) TRANSACTION_TIMEOUT.toMillis());
      streams = new KafkaStreams(topology, properties);
      streams.setUncaughtExceptionHandler(e -> {
        log.error("Stream thread of {} failed; replacing it", applicationId, e);
        return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
            .REPLACE_THREAD;
      });
      streams.start();
    } catch (RuntimeException e) {
      embedder.close();
      throw e;
    }
    Gauge lag = Gauge.builder("d2search.reembed.lag", this, self -> self.lagOrNaN(version)).tag("version", version)
        .description("Passages a FULL release's embedder has still to embed (its lag on passages)")
        .register(registry);
    running.put(version, new Running(version, topic, applicationId, streams, embedder, lag));
    log.info("Embedding every passage for model release {} ({}, parent {}) into {}, {}, as {}",
        release.getVersion(), release.getKind(), release.getParentVersion(), topic,
        config.maxRate() == 0 ? "with no rate limit" : "at most " + config.maxRate() + " passages/s", applicationId);
  }

  private double lagOrNaN(String version) {
    synchronized (this) {
      if (!running.containsKey(version)) {
        return Double.NaN;
      }
    }
    try {
      return lag(version);
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }

  /** Creates {@code embeddings.<version>} like {@code passages}: same partitions and replication, compacted. */
  private void createTopic(String topic) {
    try {
      TopicDescription passages = admin.describeTopics(List.of(Topics.PASSAGES)).allTopicNames()
          .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(Topics.PASSAGES);
      NewTopic embeddings = new NewTopic(topic, passages.partitions().size(),
          (short) passages.partitions().get(0).replicas().size())
          .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
      TopicAdmin.createIfMissing(admin, List.of(embeddings), ADMIN_TIMEOUT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating " + topic, e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("cannot describe " + Topics.PASSAGES + ": " + e, e);
    }
  }

  /** Retires older FULL versions once the latest has kept up with {@code passages} long enough. */
  private void retireIfDue() {
    try {
      String version;
      synchronized (this) {
        version = latest;
        if (closed || version == null) {
          return;
        }
      }
      long lag = lag(version);
      long now = System.nanoTime();
      List<String> older = new ArrayList<>();
      synchronized (this) {
        if (!version.equals(latest)) {
          return;
        }
        if (lag > 0) {
          latestCaughtUpSince = -1;
          return;
        }
        if (latestCaughtUpSince < 0) {
          latestCaughtUpSince = now;
          log.info("Model version {} has embedded every passage; older FULL versions retire in {}", version,
              config.retireAfter());
        }
        if (now - latestCaughtUpSince < config.retireAfter().toNanos()) {
          return;
        }
        for (String v : List.copyOf(running.keySet())) {
          if (!v.equals(version)) {
            older.add(v);
          }
        }
      }
      for (String old : olderTopics(version, older)) {
        retire(old);
      }
    } catch (RuntimeException e) {
      log.debug("Retirement check failed; trying again in {}", RETIRE_CHECK, e);
    }
  }

  /** The running older versions, and those whose topic is left from before a restart. */
  private Set<String> olderTopics(String latestVersion, List<String> runningOlder) {
    Set<String> versions = new java.util.LinkedHashSet<>(runningOlder);
    try {
      for (String name : admin.listTopics().names().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        String v = Topics.versionOfEmbeddingsTopic(name);
        if (v != null && !v.equals(latestVersion)) {
          versions.add(v);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.debug("Cannot list topics", e);
    }
    return versions;
  }

  /** Stops a FULL version's application and deletes its state, group, internal topics and embeddings topic. */
  private void retire(String version) {
    Running r;
    synchronized (this) {
      if (closed) {
        return;
      }
      r = running.remove(version);
    }
    String applicationId = applicationId(indexer, version);
    if (r != null) {
      r.streams().close(ADMIN_TIMEOUT);
      r.embedder().close();
      registry.remove(r.lag());
    }
    // Its stores and checkpoints: the application id is never reused for other vectors.
    deleteDirectory(indexer.stateDir().resolve(applicationId));
    try {
      List<String> topics = new ArrayList<>();
      topics.add(Topics.embeddingsTopicOf(version));
      for (String name : admin.listTopics().names().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        if (name.startsWith(applicationId + "-")) {
          topics.add(name); // changelogs of its buffer and hash stores
        }
      }
      // Either may be gone already (a retirement cut short by a restart): what is left is deleted.
      admin.deleteConsumerGroups(List.of(applicationId)).all().toCompletionStage().toCompletableFuture()
          .exceptionally(e -> null).get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      admin.deleteTopics(topics).all().toCompletionStage().toCompletableFuture().exceptionally(e -> null)
          .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      log.info("Retired model version {}: stopped {}, deleted topics {}", version, applicationId, topics);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("Retiring model version {}: could not delete its topics or group: {}", version, e.toString());
    }
  }

  private static void deleteDirectory(Path dir) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops every FULL version's application (their state stays, to resume) and the admin client. */
  @Override
  public void close() {
    List<Running> all;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      all = new ArrayList<>(running.values());
      running.clear();
    }
    retirer.shutdownNow();
    for (Running r : all) {
      r.streams().close(ADMIN_TIMEOUT);
      r.embedder().close();
    }
    admin.close(ADMIN_TIMEOUT);
  }
}
