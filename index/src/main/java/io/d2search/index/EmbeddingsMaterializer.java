package io.d2search.index;

import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@link PassageIndex} equal to the {@code embeddings} topic: a background thread reads every partition
 * (each replica holds the whole index, so there is no consumer group) and upserts or deletes passages.
 *
 * <p><b>Exactly once into the index.</b> The consumer reads {@code read_committed} (the indexer writes in
 * transactions) and never commits offsets to Kafka: the positions go into the Lucene commit, with the documents
 * they produced ({@link PassageIndex#commit(Map)}), every {@code commitIntervalMs} or {@code commitMaxRecords}
 * records and on {@link #close()}. On start it seeks to the offsets of the last Lucene commit, or to the
 * beginning for a new index. A crash replays what came after the last commit; upserts keyed by passage id make
 * that harmless.
 *
 * <p><b>Freshness.</b> After each poll batch the index is refreshed (near-real-time, no commit), so a passage is
 * searchable within one poll round trip of its transaction committing.
 *
 * <p><b>Bad records.</b> A record that does not decode, has a bad key or an invalid vector is logged, counted
 * ({@code d2search.index.records.skipped}, tag {@code reason}) and skipped; it never stops the loop. Embeddings
 * of another model version than the index's are skipped too (reason {@code model-version}): during a full
 * re-embed the topic carries two versions. Tombstones delete whatever version the index holds.
 *
 * <p><b>Metrics</b> (removed again on close): gauges {@code d2search.index.consumer.lag} (records behind the
 * last stable offsets, NaN until known) and {@code d2search.index.passages}; counters
 * {@code d2search.index.records.applied} (tag {@code op}: upsert, delete) and
 * {@code d2search.index.records.skipped}; timer {@code d2search.index.commit}. Meters are shared by name, so
 * give each live materialiser its own registry.
 *
 * <p>Partitions are discovered once, when the thread starts (it waits for the topic to exist); partitions added
 * later are not read until a restart. Thread-safe: the accessors may be called from any thread. Does not close
 * the index, which the caller owns and must close after this.
 */
public final class EmbeddingsMaterializer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddingsMaterializer.class);

  private static final Duration POLL_TIMEOUT = Duration.ofMillis(200);
  private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
  private static final long TOPIC_RETRY_MS = 1_000;

  private final PassageIndex index;
  private final MaterializerConfig config;
  private final KafkaConsumer<String, byte[]> consumer;
  private final AvroSerde<PassageEmbedding> serde = Topics.embeddingSerde();
  private final Thread thread;
  private final MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();
  private final Counter upserts;
  private final Counter deletes;
  private final Map<String, Counter> skipped = new ConcurrentHashMap<>();
  private final Timer commitTimer;
  private final Set<String> loggedForeignVersions = ConcurrentHashMap.newKeySet();

  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final AtomicLong applied = new AtomicLong();
  private final AtomicLong lag = new AtomicLong(-1);
  private volatile boolean running = true;
  private volatile Throwable failure;

  // Owned by the consumer thread.
  private Map<TopicPartition, Long> endAtStart = Map.of();
  private final Map<TopicPartition, Long> positions = new HashMap<>();
  private Map<TopicPartition, Long> lastCommitted = Map.of();
  private long recordsSinceCommit;
  private long lastCommitNanos;

  private EmbeddingsMaterializer(PassageIndex index, MaterializerConfig config, MeterRegistry registry) {
    this.index = index;
    this.config = config;
    this.registry = registry;
    this.consumer = new KafkaConsumer<>(consumerConfig(config));
    this.upserts = register(Counter.builder("d2search.index.records.applied").tag("op", "upsert")
        .description("Embedding records applied to the index").tag("topic", config.topic()).register(registry));
    this.deletes = register(Counter.builder("d2search.index.records.applied").tag("op", "delete")
        .description("Embedding records applied to the index").tag("topic", config.topic()).register(registry));
    this.commitTimer = register(Timer.builder("d2search.index.commit")
        .description("Lucene commits of the index with its offsets").tag("topic", config.topic()).register(registry));
    register(Gauge.builder("d2search.index.consumer.lag", this, m -> m.lag() < 0 ? Double.NaN : m.lag())
        .description("Records of the embeddings topic not yet in the index").tag("topic", config.topic()).register(registry));
    register(Gauge.builder("d2search.index.passages", index, PassageIndex::size)
        .description("Passages in the searchable index").tag("topic", config.topic()).register(registry));
    this.thread = new Thread(this::run, "embeddings-materializer");
    this.thread.setDaemon(true);
  }

  /**
   * Creates the consumer and starts the background thread; returns at once. Use {@link #caughtUp()} or
   * {@link #awaitCaughtUp(Duration)} for readiness.
   *
   * @param index the index to keep up to date; not closed by this class
   * @param config where to read from and how often to commit
   * @param registry where the metrics go
   */
  public static EmbeddingsMaterializer start(PassageIndex index, MaterializerConfig config, MeterRegistry registry) {
    Objects.requireNonNull(index, "index");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(registry, "registry");
    EmbeddingsMaterializer materializer = new EmbeddingsMaterializer(index, config, registry);
    materializer.thread.start();
    return materializer;
  }

  private static Map<String, Object> consumerConfig(MaterializerConfig config) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, "d2search-query-service-materializer");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // Never create the compacted topic with broker defaults by asking for it.
    props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
    props.putAll(config.kafkaProperties());
    // Offsets live in the Lucene commit, and only committed transactions may reach the index.
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    return props;
  }

  /**
   * True once the index holds every record that the topic had when this materialiser started (its last stable
   * offsets then); stays true after. The readiness signal of the service.
   */
  public boolean caughtUp() {
    return caughtUp.getCount() == 0;
  }

  /**
   * Waits until {@link #caughtUp()}, the loop has failed, or the timeout passes.
   *
   * @return whether it caught up
   */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline && failure == null && running) {
      if (caughtUp.await(Math.min(100, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)),
          TimeUnit.MILLISECONDS)) {
        return true;
      }
    }
    return caughtUp();
  }

  /**
   * Records of the topic not yet in the index, summed over partitions, as of the last poll; -1 while unknown
   * (before the partitions are assigned and fetched).
   */
  public long lag() {
    return lag.get();
  }

  /** Upserts and deletes applied since this materialiser started (skipped records not counted). */
  public long appliedRecords() {
    return applied.get();
  }

  /** Why the background loop stopped, if it failed (e.g. the index could not be written). */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(failure);
  }

  /** The index this materialiser writes. */
  public PassageIndex index() {
    return index;
  }

  /**
   * Stops the loop, commits the index with the positions of everything applied, closes the consumer, and
   * removes the metrics. Does not close the index. Calling it again does nothing.
   */
  @Override
  public void close() {
    if (!running && !thread.isAlive()) {
      removeMeters();
      return;
    }
    running = false;
    stopping.countDown();
    try {
      consumer.wakeup();
    } catch (RuntimeException e) {
      log.debug("Waking the consumer failed; the loop has stopped already", e);
    }
    try {
      thread.join(CLOSE_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      log.warn("Materialiser thread did not stop within {} s", CLOSE_TIMEOUT.toSeconds());
    }
    removeMeters();
  }

  private void run() {
    try {
      List<TopicPartition> partitions = awaitPartitions();
      if (partitions.isEmpty()) {
        return; // closed while waiting
      }
      consumer.assign(partitions);
      Map<TopicPartition, Long> committed = index.committedOffsets();
      for (TopicPartition tp : partitions) {
        Long offset = committed.get(tp);
        if (offset == null) {
          consumer.seekToBeginning(List.of(tp));
        } else {
          consumer.seek(tp, offset);
        }
      }
      // Under read_committed these are the last stable offsets: what "caught up" means for readiness.
      endAtStart = Map.copyOf(consumer.endOffsets(partitions, METADATA_TIMEOUT));
      snapshotPositions(partitions);
      lastCommitted = Map.copyOf(committed);
      lastCommitNanos = System.nanoTime();
      log.info("Materialising {} partitions of {} into index {} (model {}): from {} to at least {}",
          partitions.size(), config.topic(), index.dir(), index.modelVersion(), positions, endAtStart);
      updateProgress(partitions);
      while (running) {
        ConsumerRecords<String, byte[]> records = consumer.poll(POLL_TIMEOUT);
        for (ConsumerRecord<String, byte[]> record : records) {
          apply(record);
        }
        recordsSinceCommit += records.count();
        if (!records.isEmpty()) {
          index.refresh();
        }
        snapshotPositions(partitions);
        updateProgress(partitions);
        if (!positions.equals(lastCommitted) && (recordsSinceCommit >= config.commitMaxRecords()
            || System.nanoTime() - lastCommitNanos >= TimeUnit.MILLISECONDS.toNanos(config.commitIntervalMs()))) {
          commit();
        }
      }
    } catch (WakeupException e) {
      // close() woke a blocking call.
    } catch (Throwable t) {
      failure = t;
      log.error("Materialising {} into {} stopped", config.topic(), index.dir(), t);
    } finally {
      commitOnExit();
      consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
    }
  }

  /** The topic's partitions; waits (interruptibly by close) for the topic to exist. Empty when closed. */
  private List<TopicPartition> awaitPartitions() throws InterruptedException {
    boolean warned = false;
    while (running) {
      List<PartitionInfo> infos;
      try {
        infos = consumer.partitionsFor(config.topic(), METADATA_TIMEOUT);
      } catch (org.apache.kafka.common.errors.TimeoutException e) {
        infos = List.of();
      }
      if (infos != null && !infos.isEmpty()) {
        return infos.stream().map(p -> new TopicPartition(p.topic(), p.partition()))
            .sorted(CommitData.PARTITION_ORDER).toList();
      }
      if (!warned) {
        log.warn("Topic {} not found on {}; waiting for it", config.topic(), config.bootstrapServers());
        warned = true;
      }
      stopping.await(TOPIC_RETRY_MS, TimeUnit.MILLISECONDS);
    }
    return List.of();
  }

  private void apply(ConsumerRecord<String, byte[]> record) {
    String key = record.key();
    if (key == null) {
      skip("invalid", record, "no key");
      return;
    }
    if (record.value() == null) {
      index.delete(key);
      deletes.increment();
      applied.incrementAndGet();
      return;
    }
    PassageEmbedding embedding;
    try {
      embedding = serde.decode(record.value());
    } catch (SerializationException e) {
      skip("undecodable", record, e.getMessage());
      return;
    }
    try {
      index.upsert(key, embedding);
    } catch (ModelVersionMismatchException e) {
      // Expected while the indexer re-embeds into a new version; not an error of the record.
      countSkip("model-version");
      if (loggedForeignVersions.add(e.actual())) {
        log.info("Skipping embeddings of model version {} (this index is version {})", e.actual(), e.expected());
      }
      return;
    } catch (IllegalArgumentException e) {
      skip("invalid", record, e.getMessage());
      return;
    }
    upserts.increment();
    applied.incrementAndGet();
  }

  private void skip(String reason, ConsumerRecord<String, byte[]> record, String why) {
    countSkip(reason);
    log.warn("Skipping {} record {}-{}@{} (key {}): {}", reason, record.topic(), record.partition(), record.offset(),
        record.key(), why);
  }

  private void countSkip(String reason) {
    skipped.computeIfAbsent(reason, r -> register(Counter.builder("d2search.index.records.skipped").tag("reason", r)
        .description("Embedding records not applied to the index").register(registry))).increment();
  }

  /** Positions after the last fully applied batch: everything below them is in the index. */
  private void snapshotPositions(List<TopicPartition> partitions) {
    for (TopicPartition tp : partitions) {
      positions.put(tp, consumer.position(tp, METADATA_TIMEOUT));
    }
  }

  private void updateProgress(List<TopicPartition> partitions) {
    long total = 0;
    for (TopicPartition tp : partitions) {
      long position = positions.get(tp);
      var current = consumer.currentLag(tp);
      total += current.isPresent() ? current.getAsLong() : Math.max(0, endAtStart.get(tp) - position);
    }
    lag.set(total);
    if (!caughtUp()) {
      boolean reached = partitions.stream().allMatch(tp -> positions.get(tp) >= endAtStart.get(tp));
      if (reached) {
        log.info("Index caught up with {}: {} passages, {} records applied", config.topic(), index.size(),
            applied.get());
        caughtUp.countDown();
      }
    }
  }

  private void commit() {
    Map<TopicPartition, Long> snapshot = Map.copyOf(positions);
    commitTimer.record(() -> index.commit(snapshot));
    lastCommitted = snapshot;
    recordsSinceCommit = 0;
    lastCommitNanos = System.nanoTime();
    log.debug("Committed the index at {}", snapshot);
  }

  private void commitOnExit() {
    if (positions.isEmpty() || positions.equals(lastCommitted)) {
      return;
    }
    try {
      commit();
      log.info("Committed the index at {} on close", lastCommitted);
    } catch (RuntimeException e) {
      log.error("Final commit of the index failed; the next start replays from {}", lastCommitted, e);
    }
  }

  private <M extends Meter> M register(M meter) {
    synchronized (meters) {
      meters.add(meter);
    }
    return meter;
  }

  private void removeMeters() {
    synchronized (meters) {
      meters.forEach(registry::remove);
      meters.clear();
    }
  }
}
