package io.d2search.schemas;

import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseStage;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
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
 * Follows {@code model-releases} for a service that acts on releases (the query service swaps its model, the
 * indexer embeds a FULL release's passages): a background thread with a consumer assigned to partition 0 (the topic
 * has one; no consumer group, every replica reads it all), from the beginning, {@code read_committed}, committing
 * nothing.
 *
 * <p><b>Catching up.</b> At start it reads up to the topic's end offset as it stands then, keeping only the latest
 * {@code CURRENT} release (older ones are {@link Listener#superseded superseded}, not applied one after the other),
 * and hands that one to {@link Listener#current}; then {@link #caughtUp()} turns true. After that each poll's latest
 * {@code CURRENT} release is handed over as it arrives. Other stages go to {@link Listener#other} in order.
 *
 * <p><b>Bad records</b> never stop the loop: one that does not decode is {@link Listener#refused refused}, a
 * tombstone (a release withdrawn) {@link Listener#ignored ignored}. A listener that throws stops the loop
 * ({@link #failure()}). Thread-safe accessors; {@link #close()} stops the thread.
 */
public final class ReleaseFollower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReleaseFollower.class);

  private static final Duration POLL_TIMEOUT = Duration.ofMillis(500);
  private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
  private static final long TOPIC_RETRY_MS = 1_000;

  /** What the follower hands releases to; called from its thread only, one call at a time. */
  public interface Listener {
    /** The latest {@code CURRENT} release: once at catch-up (if the topic has one), then each new one. */
    void current(ModelRelease release);

    /** A release of another stage ({@code CANARY}), in topic order. */
    default void other(ModelRelease release) {}

    /** A {@code CURRENT} release that a later one replaced (or a tombstone withdrew) before it was handed over. */
    default void superseded(ModelRelease release) {}

    /**
     * A tombstone: the release of that key ({@link Topics#CURRENT_RELEASE}, {@link Topics#CANARY_RELEASE}) was
     * withdrawn. By default {@link #ignored ignored}.
     */
    default void withdrawn(String key, String where) {
      ignored(where, "tombstone");
    }

    /** A record that is no release to act on, {@code where} = topic@offset. */
    default void ignored(String where, String why) {}

    /** A record that does not decode as a release. */
    default void refused(String where, String why) {}
  }

  private final Listener listener;
  private final Supplier<String> serving;
  private final String bootstrapServers;
  private final KafkaConsumer<String, byte[]> consumer;
  private final AvroSerde<ModelRelease> serde = Topics.modelReleaseSerde();
  private final Thread thread;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final AtomicLong lag = new AtomicLong(-1);
  private volatile boolean running = true;
  private volatile boolean topicFound;
  private volatile Throwable failure;

  private ReleaseFollower(Listener listener, Supplier<String> serving, String clientId, String bootstrapServers,
      Map<String, ?> kafkaProperties) {
    this.listener = listener;
    this.serving = serving;
    this.bootstrapServers = bootstrapServers;
    this.consumer = new KafkaConsumer<>(consumerConfig(clientId, bootstrapServers, kafkaProperties));
    this.thread = new Thread(this::run, clientId);
    this.thread.setDaemon(true);
  }

  /**
   * Creates the consumer and starts the thread; returns at once.
   *
   * @param listener acts on the releases read
   * @param serving what serves now, for log lines (e.g. the model version)
   * @param clientId the consumer's {@code client.id} and the thread's name
   * @param bootstrapServers the cluster of {@code model-releases}
   * @param kafkaProperties extra client properties (security, timeouts)
   */
  public static ReleaseFollower start(Listener listener, Supplier<String> serving, String clientId,
      String bootstrapServers, Map<String, ?> kafkaProperties) {
    ReleaseFollower follower = new ReleaseFollower(Objects.requireNonNull(listener, "listener"),
        Objects.requireNonNull(serving, "serving"), Objects.requireNonNull(clientId, "clientId"),
        Objects.requireNonNull(bootstrapServers, "bootstrapServers"), kafkaProperties);
    follower.thread.start();
    return follower;
  }

  private static Map<String, Object> consumerConfig(String clientId, String bootstrapServers,
      Map<String, ?> kafkaProperties) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // Never create the compacted topic with broker defaults by asking for it.
    props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
    props.putAll(kafkaProperties);
    // The whole topic is read at every start; a release published in an aborted transaction is never seen.
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    return props;
  }

  /** True once the topic as it stood at start has been read and its current release handed over. */
  public boolean caughtUp() {
    return caughtUp.getCount() == 0;
  }

  /** Waits until {@link #caughtUp()}, the loop has failed, or the timeout passes; returns whether it caught up. */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline && failure == null && running) {
      if (caughtUp.await(100, TimeUnit.MILLISECONDS)) {
        return true;
      }
    }
    return caughtUp();
  }

  /** Why the loop stopped, if it failed. */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(failure);
  }

  /** Records of the topic not read yet; -1 before the first poll. */
  public long lag() {
    return lag.get();
  }

  /** Whether the topic was found (the loop waits for it to exist). */
  public boolean topicFound() {
    return topicFound;
  }

  /** The cluster it reads, for messages. */
  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** Stops the thread and closes the consumer. Calling it again does nothing. */
  @Override
  public void close() {
    running = false;
    stopping.countDown();
    try {
      consumer.wakeup();
    } catch (RuntimeException e) {
      log.debug("Waking the release consumer failed; the loop has stopped already", e);
    }
    if (Thread.currentThread() != thread) {
      try {
        thread.join(CLOSE_TIMEOUT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (thread.isAlive()) {
        log.warn("Model release follower {} did not stop within {} s", thread.getName(), CLOSE_TIMEOUT.toSeconds());
      }
    }
  }

  private void run() {
    try {
      TopicPartition partition = awaitPartition();
      if (partition == null) {
        return; // closed while waiting
      }
      topicFound = true;
      consumer.assign(List.of(partition));
      consumer.seekToBeginning(List.of(partition));
      long end = consumer.endOffsets(List.of(partition), METADATA_TIMEOUT).get(partition);
      log.info("Following {} from the beginning (end offset {}), serving model {}", Topics.MODEL_RELEASES, end,
          serving.get());
      ModelRelease pending = null; // the latest CURRENT release read and not yet handed over
      while (running) {
        ConsumerRecords<String, byte[]> records = consumer.poll(POLL_TIMEOUT);
        for (ConsumerRecord<String, byte[]> record : records) {
          pending = read(record, pending);
        }
        long position = consumer.position(partition, METADATA_TIMEOUT);
        // While catching up, wait for the last record of the topic as it stood: only the latest release counts.
        if (pending != null && (caughtUp() || position >= end)) {
          listener.current(pending);
          pending = null;
        }
        lag.set(consumer.currentLag(partition).orElse(Math.max(0, end - position)));
        if (!caughtUp() && position >= end) {
          log.info("Caught up with {}: serving model {}", Topics.MODEL_RELEASES, serving.get());
          caughtUp.countDown();
        }
      }
    } catch (WakeupException e) {
      // close() woke a blocking call.
    } catch (Throwable t) {
      failure = t;
      log.error("Following {} stopped; serving model {} until a restart", Topics.MODEL_RELEASES, serving.get(), t);
    } finally {
      consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
    }
  }

  /** Decodes one record; returns the latest CURRENT release pending, handing every other record on. */
  private ModelRelease read(ConsumerRecord<String, byte[]> record, ModelRelease pending) {
    String where = Topics.MODEL_RELEASES + "@" + record.offset();
    if (record.value() == null) {
      log.info("The {} release was withdrawn (tombstone at {}); serving model {} stays", record.key(), where,
          serving.get());
      listener.withdrawn(String.valueOf(record.key()), where);
      if (pending != null && Topics.CURRENT_RELEASE.equals(record.key())) {
        listener.superseded(pending); // withdrawn before it was handed over
        return null;
      }
      return pending;
    }
    ModelRelease release;
    try {
      release = serde.decode(record.value());
    } catch (SerializationException e) {
      log.warn("Refused the record at {} (key {}): it is not a ModelRelease: {}", where, record.key(),
          e.getMessage());
      listener.refused(where, "not a ModelRelease: " + e.getMessage());
      return pending;
    }
    if (release.getStage() != ReleaseStage.CURRENT) {
      listener.other(release);
      return pending;
    }
    if (pending != null) {
      listener.superseded(pending);
    }
    return release;
  }

  /** Partition 0 of the topic; waits (interruptibly by close) for the topic to exist. Null when closed. */
  private TopicPartition awaitPartition() throws InterruptedException {
    boolean warned = false;
    while (running) {
      List<PartitionInfo> infos;
      try {
        infos = consumer.partitionsFor(Topics.MODEL_RELEASES, METADATA_TIMEOUT);
      } catch (org.apache.kafka.common.errors.TimeoutException e) {
        infos = List.of();
      }
      if (infos != null && !infos.isEmpty()) {
        if (infos.size() > 1) {
          log.warn("{} has {} partitions; releases are read from partition 0 only", Topics.MODEL_RELEASES,
              infos.size());
        }
        return new TopicPartition(Topics.MODEL_RELEASES, 0);
      }
      if (!warned) {
        log.warn("Topic {} not found on {}; waiting for it (serving model {} meanwhile)", Topics.MODEL_RELEASES,
            bootstrapServers, serving.get());
        warned = true;
      }
      stopping.await(TOPIC_RETRY_MS, TimeUnit.MILLISECONDS);
    }
    return null;
  }
}
