package io.d2search.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * When each record of some topics first became visible to a read_committed consumer: a thread reads every partition
 * from its end at start and notes {@link System#nanoTime()} per (topic, key) the first time it sees one. The
 * freshness probes use it to split produce→searchable into hops — the chunk stage's transaction committing
 * ({@code passages}), the embed stage's ({@code embeddings}), and the query service's materialising and refresh.
 * What it reads adds one consumer's fetches to the broker; a hop's figure includes that consumer's own fetch
 * round trip, which the services' consumers pay too.
 */
final class HopWatcher implements AutoCloseable {
  private static final Duration POLL = Duration.ofMillis(100);

  private final KafkaConsumer<String, byte[]> consumer;
  private final Map<String, Long> firstSeen = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final CountDownLatch positioned = new CountDownLatch(1);
  private final Thread thread;
  private volatile Throwable failure;

  HopWatcher(String bootstrapServers, List<String> topics) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "d2search-bench-hops");
    consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    thread = new Thread(() -> run(topics), "bench-hop-watcher");
    thread.setDaemon(true);
    thread.start();
  }

  private void run(List<String> topics) {
    try {
      List<TopicPartition> partitions = new ArrayList<>();
      for (String topic : topics) {
        consumer.partitionsFor(topic, Duration.ofSeconds(10))
            .forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
      }
      consumer.assign(partitions);
      consumer.seekToEnd(partitions);
      partitions.forEach(consumer::position); // resolve the end offsets now: later records are the probes'
      positioned.countDown();
      while (running.get()) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
          long now = System.nanoTime();
          if (r.key() != null) {
            firstSeen.putIfAbsent(r.topic() + "\0" + r.key(), now);
          }
        }
      }
    } catch (org.apache.kafka.common.errors.WakeupException e) {
      // closing
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      positioned.countDown();
      consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
    }
  }

  /** Waits until every partition is positioned at its end. */
  void awaitPositioned() throws InterruptedException {
    if (!positioned.await(30, TimeUnit.SECONDS) || failure != null) {
      throw new IllegalStateException("the hop watcher did not start: " + failure, failure);
    }
  }

  /** When {@code key} was first seen on {@code topic} ({@link System#nanoTime()}), or -1. */
  long firstSeen(String topic, String key) {
    return firstSeen.getOrDefault(topic + "\0" + key, -1L);
  }

  /** The latest first sighting of {@code keys} on {@code topic}, or -1 if any was not seen. */
  long lastOf(String topic, Iterable<String> keys) {
    long last = -1;
    for (String key : keys) {
      long seen = firstSeen(topic, key);
      if (seen < 0) {
        return -1;
      }
      last = Math.max(last, seen);
    }
    return last;
  }

  @Override
  public void close() throws InterruptedException {
    running.set(false);
    consumer.wakeup();
    thread.join(10_000);
  }
}
