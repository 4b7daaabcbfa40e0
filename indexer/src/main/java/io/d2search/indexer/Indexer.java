package io.d2search.indexer;

import io.d2search.embed.Embedder;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.DocumentValidator;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * <p>A stream thread that dies of an unexpected exception is logged and replaced. Bad input never gets that far:
 * the chunk topology dead-letters it.
 *
 * <p>The constructor builds but does not start; {@link #start()} starts both. The indexer does not own the
 * embedder: close the indexer first, then the embedder. Thread-safe.
 */
public final class Indexer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Indexer.class);
  /** How long {@link #close()} waits for both applications to stop. */
  public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(30);

  private final IndexerConfig config;
  private final KafkaStreams chunker;
  private final KafkaStreams embedder;
  private final List<KafkaStreamsMetrics> kafkaMetrics;
  private final MeterRegistry registry;
  private final Object stateChanged = new Object();
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Builds both applications.
   *
   * @param config where and how to run
   * @param embedder the model; its tokenizer also counts tokens for chunking. Not closed by the indexer
   * @param registry receives the chunk and embed meters and the Kafka Streams client metrics
   */
  public Indexer(IndexerConfig config, Embedder embedder, MeterRegistry registry) {
    this.config = Objects.requireNonNull(config, "config");
    Objects.requireNonNull(embedder, "embedder");
    this.registry = Objects.requireNonNull(registry, "registry");
    Topology chunkTopology = ChunkTopology.build(new Chunker(embedder.tokenizer(), config.chunker()),
        new DocumentValidator(config.validation()), registry);
    Topology embedTopology =
        EmbedTopology.build(embedder, config.embedMaxBatch(), config.embedMaxWaitMs(), registry);
    this.chunker = create(chunkTopology, config.chunkerApplicationId());
    this.embedder = create(embedTopology, config.embedderApplicationId());
    this.kafkaMetrics = List.of(
        new KafkaStreamsMetrics(chunker, Tags.of("application", config.chunkerApplicationId())),
        new KafkaStreamsMetrics(this.embedder, Tags.of("application", config.embedderApplicationId())));
  }

  private KafkaStreams create(Topology topology, String applicationId) {
    KafkaStreams streams = new KafkaStreams(topology, streamsConfig(config, applicationId));
    streams.setUncaughtExceptionHandler(e -> {
      log.error("Stream thread of {} failed; replacing it", applicationId, e);
      return StreamThreadExceptionResponse.REPLACE_THREAD;
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
   * threads, commit interval and state dir, then the overrides.
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
    p.putAll(config.streamsOverrides());
    return p;
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
    log.info("Indexer started: {} and {} on {}", config.chunkerApplicationId(), config.embedderApplicationId(),
        config.bootstrapServers());
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
    boolean chunkerClosed = chunker.close(remaining(deadline));
    boolean embedderClosed = embedder.close(remaining(deadline));
    kafkaMetrics.forEach(KafkaStreamsMetrics::close);
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
