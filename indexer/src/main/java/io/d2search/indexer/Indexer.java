package io.d2search.indexer;

import io.d2search.embed.Embedder;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.DocumentValidator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import io.d2search.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The indexer service: the {@link ChunkTopology} and the {@link EmbedTopology} run as two Kafka Streams
 * applications, {@code <prefix>-chunker} and {@code <prefix>-embedder}, both {@code exactly_once_v2}. Two
 * applications rather than one let each scale and rebalance on its own: chunking is cheap, embedding is not.
 *
 * <p>A stream thread that dies of an unexpected exception is logged, counted
 * ({@code d2search.indexer.thread.replacements}) and replaced; after {@value ThreadFailurePolicy#DEFAULT_MAX_FAILURES}
 * deaths within {@code ThreadFailurePolicy.DEFAULT_WINDOW} the application shuts down instead (its state says so)
 * rather than replaying one failure forever. Bad input never gets that far: the chunk topology
 * dead-letters what it rejects, cut to fit the producer's {@code max.request.size}; the embed topology dead-letters
 * a passage the embedder fails on; and a record no broker will take is dropped and counted by the
 * {@link UnproducibleRecordHandler} rather than failing its task forever.
 *
 * <p>The constructor builds but does not start; {@link #start()} starts both. The indexer does not own the
 * embedder: close the indexer first, then the embedder. Thread-safe.
 */
public final class Indexer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Indexer.class);
  /** How long {@link #close()} waits for both applications to stop. */
  public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(30);
  /** Kafka's default producer {@code max.request.size}. */
  static final int DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024;
  /** How long one health check's broker calls may take. */
  private static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(2);
  /** How long the start-up lookup of the dead-letter topic's size limit may take. */
  private static final Duration LIMIT_LOOKUP = Duration.ofSeconds(10);

  private final IndexerConfig config;
  private final KafkaStreams chunker;
  private final KafkaStreams embedder;
  private final List<KafkaStreamsMetrics> kafkaMetrics;
  private final MeterRegistry registry;
  private final Object stateChanged = new Object();
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Per application id, its thread deaths (for health). */
  private final Map<String, ThreadFailurePolicy> failurePolicies = new java.util.concurrent.ConcurrentHashMap<>();
  /** Embeds FULL releases' passages; null when the indexer does not follow releases. */
  private final ReleaseEmbedders releaseEmbedders;
  /** The indexer's own model version, for log lines. */
  private final String servingVersion;
  /** Follows model-releases for {@link #releaseEmbedders}; set by start. */
  private volatile io.d2search.schemas.ReleaseFollower follower;
  /** Created on the first health check, for consumer lag; closed with the indexer. */
  private Admin admin;

  /**
   * Builds both applications.
   *
   * @param config where and how to run
   * @param embedder the model; its tokenizer also counts tokens for chunking. Not closed by the indexer
   * @param registry receives the chunk and embed meters and the Kafka Streams client metrics
   */
  public Indexer(IndexerConfig config, Embedder embedder, MeterRegistry registry) {
    this(config, embedder, registry, null);
  }

  /**
   * Builds both applications and, when {@code releases} is given, the {@link ReleaseEmbedders} that embed FULL
   * releases' passages: {@link #start()} then also follows {@code model-releases}.
   *
   * @param releases how FULL releases are embedded; null to embed with {@code embedder}'s model alone
   */
  public Indexer(IndexerConfig config, Embedder embedder, MeterRegistry registry, ReleaseEmbedders.Config releases) {
    this.config = Objects.requireNonNull(config, "config");
    Objects.requireNonNull(embedder, "embedder");
    this.registry = Objects.requireNonNull(registry, "registry");
    int maxRecordBytes = deadLetterLimit(streamsConfig(config, config.chunkerApplicationId()));
    Topology chunkTopology = ChunkTopology.build(new Chunker(embedder.tokenizer(), config.chunker()),
        new DocumentValidator(config.validation()), registry, maxRecordBytes,
        Duration.ofMillis(config.deleteRetentionMs()));
    Topology embedTopology = EmbedTopology.build(embedder, config.embedMaxBatch(), config.embedMaxWaitMs(), registry,
        maxRecordBytes);
    this.releaseEmbedders = releases == null ? null
        : new ReleaseEmbedders(config, releases, registry, maxRecordBytes);
    this.servingVersion = embedder.info().version();
    this.chunker = create(chunkTopology, config.chunkerApplicationId());
    this.embedder = create(embedTopology, config.embedderApplicationId());
    this.kafkaMetrics = List.of(
        new KafkaStreamsMetrics(chunker, Tags.of("application", config.chunkerApplicationId())),
        new KafkaStreamsMetrics(this.embedder, Tags.of("application", config.embedderApplicationId())));
  }

  private KafkaStreams create(Topology topology, String applicationId) {
    Properties properties = streamsConfig(config, applicationId);
    properties.put(UnproducibleRecordHandler.REGISTRY_CONFIG, registry);
    KafkaStreams streams = new KafkaStreams(topology, properties);
    Counter replacements = Counter.builder("d2search.indexer.thread.replacements")
        .tag("application", applicationId)
        .description("Stream threads that died of an unexpected exception and were replaced").register(registry);
    ThreadFailurePolicy policy = ThreadFailurePolicy.defaults();
    failurePolicies.put(applicationId, policy);
    streams.setUncaughtExceptionHandler(e -> {
      StreamThreadExceptionResponse response = policy.onFailure(e);
      if (response == StreamThreadExceptionResponse.REPLACE_THREAD) {
        replacements.increment();
        log.error("Stream thread of {} failed; replacing it", applicationId, e);
      } else {
        log.error("Stream threads of {} failed {}; shutting {} down rather than replaying the same failure. Last: {}",
            applicationId, policy.limit(), applicationId, e.toString(), e);
      }
      return response;
    });
    streams.setStateListener((now, before) -> {
      log.info("{} is {} (was {})", applicationId, now, before);
      synchronized (stateChanged) {
        stateChanged.notifyAll();
      }
    });
    return streams;
  }

  /**
   * The Kafka Streams properties of one application: exactly-once v2, string keys by default, the configured
   * threads, commit interval (and a poll no longer than it) and state dir, then the overrides.
   */
  public static Properties streamsConfig(IndexerConfig config, String applicationId) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toAbsolutePath().toString());
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.streamThreads());
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, config.commitIntervalMs());
    p.put(StreamsConfig.POLL_MS_CONFIG, pollMs(config));
    // A record no broker will take is dropped and counted, not retried into the same failure forever.
    p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, UnproducibleRecordHandler.class.getName());
    p.putAll(config.streamsOverrides());
    return p;
  }

  /**
   * Kafka Streams' {@code poll.ms}: a quarter of the commit interval or of the embed stage's longest wait, whichever
   * is shorter, between 1 and 100 ms. A stream thread commits and runs wall-clock punctuations (the embed stage's
   * batch deadline) only between polls, and an idle thread blocks in poll for poll.ms (100 ms by default): a
   * record of a trickle, processed right after a poll, then waits for the first poll to return after its commit
   * falls due — the whole interval when poll.ms equals it (measured: each hop cost about one interval, not half).
   * An idle thread's polls are local waits on the fetch (the broker long-polls for it), so short ones cost little.
   */
  static long pollMs(IndexerConfig config) {
    return Math.max(1, Math.min(100, Math.min(config.commitIntervalMs(), config.embedMaxWaitMs()) / 4));
  }

  /**
   * The largest dead letter both ends take: the producer's {@code max.request.size} and, when the topic exists,
   * the {@code documents.dlq} topic's effective {@code max.message.bytes} (its own setting or the broker's
   * {@code message.max.bytes}). Under exactly-once a record the broker refuses puts the transaction into an error
   * state whatever a production exception handler answers, so the limit must be known before sending.
   */
  static int deadLetterLimit(Properties streams) {
    int producer = maxRequestSize(streams);
    Map<String, Object> admin = new StreamsConfig(streams).getAdminConfigs("d2search-limits");
    try (Admin client = Admin.create(admin)) {
      ConfigResource dlq = new ConfigResource(ConfigResource.Type.TOPIC, Topics.DOCUMENTS_DLQ);
      Config described = client.describeConfigs(List.of(dlq)).all().get(LIMIT_LOOKUP.toMillis(),
          TimeUnit.MILLISECONDS).get(dlq);
      ConfigEntry entry = described == null ? null : described.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
      if (entry != null && entry.value() != null) {
        int topic = Integer.parseInt(entry.value());
        if (topic < producer) {
          log.info("Dead letters are cut to {} bytes, the {} topic's max.message.bytes", topic, Topics.DOCUMENTS_DLQ);
        }
        return Math.min(producer, topic);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      log.info("Could not read {}'s max.message.bytes ({}); dead letters are cut to the producer's {} bytes",
          Topics.DOCUMENTS_DLQ, e.getCause() == null ? e.toString() : e.getCause().toString(), producer);
    }
    return producer;
  }

  /**
   * The producer's {@code max.request.size} in these Streams properties: {@code producer.max.request.size}, else
   * {@code max.request.size}, else Kafka's default (1 MiB). Dead letters are cut to fit it.
   */
  static int maxRequestSize(Properties streams) {
    Object value = streams.getOrDefault(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG),
        streams.get(ProducerConfig.MAX_REQUEST_SIZE_CONFIG));
    if (value == null) {
      return DEFAULT_MAX_REQUEST_SIZE;
    }
    return Integer.parseInt(value.toString().trim());
  }

  /**
   * Starts both applications and returns; they join their groups in the background (see
   * {@link #awaitRunning(Duration)}). The metrics are bound here.
   *
   * @throws IllegalStateException if already started or closed
   */
  public void start() {
    if (closed.get() || !started.compareAndSet(false, true)) {
      throw new IllegalStateException("indexer was already started or is closed");
    }
    kafkaMetrics.forEach(m -> m.bindTo(registry));
    chunker.start();
    embedder.start();
    if (releaseEmbedders != null) {
      follower = io.d2search.schemas.ReleaseFollower.start(releaseEmbedders, () -> servingVersion,
          config.applicationIdPrefix() + "-indexer-releases", config.bootstrapServers(),
          config.streamsOverrides());
    }
    log.info("Indexer started: {} and {} on {}", config.chunkerApplicationId(), config.embedderApplicationId(),
        config.bootstrapServers());
  }

  /** The FULL releases' embedders; empty when the indexer does not follow releases. */
  public java.util.Optional<ReleaseEmbedders> releaseEmbedders() {
    return java.util.Optional.ofNullable(releaseEmbedders);
  }

  /** The states of both applications; never null. */
  public State state() {
    return new State(chunker.state(), embedder.state());
  }

  /** Whether both applications are running or rebalancing (i.e. alive). */
  public boolean isRunning() {
    return state().running();
  }

  /**
   * Waits until both applications are {@code RUNNING}.
   *
   * @return true once both are running; false if the timeout passed or one of them stopped for good
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitRunning(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (stateChanged) {
      while (true) {
        State state = state();
        if (state.chunker() == KafkaStreams.State.RUNNING && state.embedder() == KafkaStreams.State.RUNNING) {
          return true;
        }
        long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (remainingMs <= 0 || state.stopped()) {
          return false;
        }
        stateChanged.wait(remainingMs);
      }
    }
  }

  /**
   * What {@code /health} says of the indexer: ready when both applications are RUNNING, no stream thread died
   * within the failure window (a thread replaying one failure looks alive otherwise), and the records still to
   * process on {@code documents} (chunker) and {@code passages} (embedder) are at most {@code maxLag}.
   *
   * @param maxLag records the indexer may be behind and still be ready, {@code >= 0}
   */
  public IndexerHealth health(long maxLag) {
    State state = state();
    Map<String, Long> lag = new LinkedHashMap<>();
    String lagError = "";
    try {
      lag.put(Topics.DOCUMENTS, lag(config.chunkerApplicationId(), Topics.DOCUMENTS));
      lag.put(Topics.PASSAGES, lag(config.embedderApplicationId(), Topics.PASSAGES));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      lagError = "interrupted";
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      lagError = "lag unknown: " + (e.getCause() == null ? e : e.getCause());
    }
    List<String> dying = new ArrayList<>();
    failurePolicies.forEach((app, policy) -> {
      ThreadFailurePolicy.Recent recent = policy.recent();
      if (recent.deaths() > 0) {
        dying.add(app + ": " + recent.deaths() + " stream thread death(s) within " + ThreadFailurePolicy.DEFAULT_WINDOW
            + ", last " + recent.lastError());
      }
    });
    long behind = lag.values().stream().mapToLong(Long::longValue).sum();
    String status;
    String detail;
    if (state.stopped()) {
      status = "stopped";
      detail = "chunker " + state.chunker() + ", embedder " + state.embedder()
          + (dying.isEmpty() ? "" : "; " + String.join("; ", dying));
    } else if (!dying.isEmpty()) {
      status = "failing";
      detail = String.join("; ", dying);
    } else if (state.chunker() != KafkaStreams.State.RUNNING || state.embedder() != KafkaStreams.State.RUNNING) {
      status = "starting";
      detail = "chunker " + state.chunker() + ", embedder " + state.embedder();
    } else if (!lagError.isEmpty()) {
      status = "unknown";
      detail = lagError;
    } else if (behind > maxLag) {
      status = "catching-up";
      detail = behind + " records to process";
    } else {
      status = "ready";
      detail = "";
    }
    return new IndexerHealth(status.equals("ready"), status, detail, state, lag);
  }

  /** Records of {@code topic} not yet processed by consumer group {@code group} (committed, read_committed). */
  private long lag(String group, String topic) throws InterruptedException, ExecutionException, TimeoutException {
    return ConsumerLag.lag(admin(), group, topic);
  }

  private synchronized Admin admin() {
    if (closed.get()) {
      throw new IllegalStateException("indexer is closed");
    }
    if (admin == null) {
      admin = Admin.create(new StreamsConfig(streamsConfig(config, config.chunkerApplicationId()))
          .getAdminConfigs("d2search-health"));
    }
    return admin;
  }

  /** Stops both applications, waiting at most {@link #DEFAULT_CLOSE_TIMEOUT}. */
  @Override
  public void close() {
    close(DEFAULT_CLOSE_TIMEOUT);
  }

  /**
   * Stops both applications (chunker first, so it stops feeding the embedder), waiting at most {@code timeout} in
   * all. Calling it again does nothing.
   *
   * @return true if both stopped within the timeout
   */
  public boolean close(Duration timeout) {
    if (!closed.compareAndSet(false, true)) {
      return true;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    if (follower != null) {
      follower.close();
    }
    if (releaseEmbedders != null) {
      releaseEmbedders.close();
    }
    boolean chunkerClosed = chunker.close(remaining(deadline));
    boolean embedderClosed = embedder.close(remaining(deadline));
    kafkaMetrics.forEach(KafkaStreamsMetrics::close);
    synchronized (this) {
      if (admin != null) {
        admin.close(remaining(deadline));
      }
    }
    if (!chunkerClosed || !embedderClosed) {
      log.warn("Indexer did not stop within {} (chunker stopped: {}, embedder stopped: {})", timeout,
          chunkerClosed, embedderClosed);
    }
    return chunkerClosed && embedderClosed;
  }

  private static Duration remaining(long deadlineNanos) {
    return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
  }

  /**
   * The states of the two applications.
   *
   * @param chunker state of {@code <prefix>-chunker}
   * @param embedder state of {@code <prefix>-embedder}
   */
  public record State(KafkaStreams.State chunker, KafkaStreams.State embedder) {
    /** Both are running or rebalancing. */
    public boolean running() {
      return chunker.isRunningOrRebalancing() && embedder.isRunningOrRebalancing();
    }

    /** At least one has stopped or failed and will not run again. */
    public boolean stopped() {
      return ended(chunker) || ended(embedder);
    }

    private static boolean ended(KafkaStreams.State s) {
      return s == KafkaStreams.State.PENDING_SHUTDOWN || s == KafkaStreams.State.NOT_RUNNING
          || s == KafkaStreams.State.PENDING_ERROR || s == KafkaStreams.State.ERROR;
    }
  }
}
