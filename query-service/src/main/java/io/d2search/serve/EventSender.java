package io.d2search.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Takes the events a search emits (its impression) off the request path: the search hands over how to build the
 * record and returns; one thread encodes and sends it. The queue is bounded ({@code capacity}): when the producer
 * cannot keep up, as when the broker is unreachable and each send blocks for {@code max.block.ms}, events are
 * dropped and counted ({@code d2search.events.failed}, reason {@code queue-full}) rather than making searches wait.
 *
 * <p>Metrics: timer {@code d2search.events.send} (encoding and handing one record to the producer, on the sender's
 * thread). Thread-safe.
 */
final class EventSender implements AutoCloseable {
  /** How long {@link #close()} waits for queued events to be handed to the producer. */
  private static final long DRAIN_MILLIS = 5_000;

  private final Producer<String, byte[]> producer;
  private final ThreadPoolExecutor thread;
  private final Timer sendTimer;
  private final Counter dropped;
  private final Consumer<Exception> failed;
  private final String topic;

  /**
   * @param producer where the records go; not closed here
   * @param topic their topic
   * @param capacity events waiting at most
   * @param failed told of each event that could not be sent (the producer refused or failed it)
   */
  EventSender(Producer<String, byte[]> producer, String topic, int capacity, MeterRegistry registry,
      Consumer<Exception> failed) {
    this.producer = Objects.requireNonNull(producer, "producer");
    this.topic = Objects.requireNonNull(topic, "topic");
    this.failed = Objects.requireNonNull(failed, "failed");
    this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(capacity), r -> {
      Thread t = new Thread(r, "d2search-events-" + topic);
      t.setDaemon(true);
      return t;
    });
    this.sendTimer = Timer.builder("d2search.events.send").tag("topic", topic)
        .description("Encoding an event and handing it to the producer, off the request path").register(registry);
    this.dropped = Counter.builder("d2search.events.failed").tag("topic", topic).tag("reason", "queue-full")
        .description("Events that could not be sent").register(registry);
  }

  /**
   * Queues one event; returns at once. Dropped (and counted) when the queue is full or the sender closed.
   *
   * @param key its record key
   * @param value builds its value on the sender's thread
   */
  void submit(String key, Supplier<byte[]> value) {
    try {
      thread.execute(() -> send(key, value));
    } catch (RejectedExecutionException e) {
      dropped.increment();
    }
  }

  private void send(String key, Supplier<byte[]> value) {
    long start = System.nanoTime();
    try {
      producer.send(new ProducerRecord<>(topic, key, value.get()), (metadata, e) -> {
        if (e != null) {
          failed.accept(e);
        }
      });
    } catch (RuntimeException e) { // e.g. metadata not available within max.block.ms
      failed.accept(e);
    } finally {
      sendTimer.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
  }

  /** Hands what is queued to the producer (waiting up to 5 s), then stops the thread. Idempotent. */
  @Override
  public void close() {
    thread.shutdown();
    try {
      if (!thread.awaitTermination(DRAIN_MILLIS, TimeUnit.MILLISECONDS)) {
        dropped.increment(thread.shutdownNow().size());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      dropped.increment(thread.shutdownNow().size());
    }
  }
}
