package io.d2search.loop;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a whole topic from its beginning on a thread of its own and hands every committed record to a handler, then
 * keeps following it. No consumer group: the distiller's state is the topic itself (its retention is the replay
 * window), re-read at every start, so there are no offsets to lose or commit.
 *
 * <p>{@link #awaitCaughtUp} tells when the records that existed at start have all been handled. A handler that
 * throws stops nothing: the record is logged and skipped, since it cannot be read differently a second time.
 */
final class TopicReader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TopicReader.class);
  private static final Duration POLL = Duration.ofMillis(500);

  private final String topic;
  private final KafkaConsumer<String, byte[]> consumer;
  private final Consumer<ConsumerRecord<String, byte[]>> handler;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Throwable failure;

  /**
   * @param clientProperties bootstrap servers and any security settings
   * @param topic the topic, which must exist
   */
  TopicReader(Map<String, ?> clientProperties, String topic, String clientId,
      Consumer<ConsumerRecord<String, byte[]>> handler) {
    this.topic = Objects.requireNonNull(topic, "topic");
    this.handler = Objects.requireNonNull(handler, "handler");
    Map<String, Object> p = new HashMap<>(clientProperties);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.remove(ConsumerConfig.GROUP_ID_CONFIG);
    this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    this.thread = new Thread(this::run, clientId);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void run() {
    try {
      List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
      List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
          try {
            handler.accept(r);
          } catch (RuntimeException e) {
            log.warn("Skipping {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.toString());
          }
        }
        if (caughtUp.getCount() > 0 && end.entrySet().stream()
            .allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
          caughtUp.countDown();
        }
      }
    } catch (WakeupException e) {
      if (running) {
        failure = e;
      }
    } catch (RuntimeException | Error e) {
      failure = e;
      log.error("Reading {} stopped", topic, e);
    } finally {
      consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
    }
  }

  /** Waits until every record that existed when reading began has been handled. */
  boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  boolean caughtUp() {
    return caughtUp.getCount() == 0;
  }

  /** Why reading stopped, if it did. */
  Throwable failure() {
    return failure;
  }

  @Override
  public void close() {
    running = false;
    consumer.wakeup();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
