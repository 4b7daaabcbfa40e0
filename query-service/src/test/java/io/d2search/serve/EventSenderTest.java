package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ServerSocket;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EventSenderTest {
  /**
   * A broker that cannot be reached: every send blocks for max.block.ms waiting for metadata. Searches hand their
   * impressions over and return at once; what the queue has no room for is dropped and counted.
   */
  @Test
  void anUnreachableBrokerNeverMakesTheCallerWaitAndWhatDoesNotFitIsCounted() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort(); // closed again: nothing listens there
    }
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger failed = new AtomicInteger();
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port, ProducerConfig.MAX_BLOCK_MS_CONFIG, 500),
        new StringSerializer(), new ByteArraySerializer())) {
      EventSender sender = new EventSender(producer, "impressions", 4, registry, e -> failed.incrementAndGet());
      long start = System.nanoTime();
      for (int i = 0; i < 50; i++) {
        sender.submit("q" + i, () -> new byte[] {1});
      }
      long tookMs = (System.nanoTime() - start) / 1_000_000;
      // 50 sends would block the caller 25 s; handing them over does not wait on the broker at all.
      assertThat(tookMs).isLessThan(5_000);
      double dropped = registry.get("d2search.events.failed").tag("reason", "queue-full").counter().count();
      // One in flight, four queued: the other 45 (or more, if the first had not started yet) were dropped.
      assertThat(dropped).isBetween(45.0, 46.0);
      sender.close(); // waits for the queued ones (each failing after max.block.ms) up to 5 s
      assertThat(failed.get() + (long) registry.get("d2search.events.failed").tag("reason", "queue-full")
          .counter().count()).isEqualTo(50);
      assertThat(registry.get("d2search.events.send").timer().count()).isEqualTo(failed.get());
      sender.submit("late", () -> new byte[] {1});
      assertThat(registry.get("d2search.events.failed").tag("reason", "queue-full").counter().count())
          .as("a closed sender drops and counts").isEqualTo(dropped + 1);
    }
  }
}
