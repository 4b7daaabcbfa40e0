package io.d2search.indexer;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

/** Records of a topic a consumer group has not processed yet, by its committed offsets. Stateless. */
final class ConsumerLag {
  /** How long the broker calls of one lookup may take. */
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  private ConsumerLag() {}

  /**
   * Lag of {@code group} on {@code topic}: for each partition, the read_committed end offset minus the committed
   * offset (or the earliest offset where the group has committed none), summed.
   *
   * @throws IllegalStateException if the broker does not answer in time
   */
  static long of(Admin client, String group, String topic) {
    try {
      return lag(client, group, topic);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("lag of " + group + " on " + topic + " unknown: "
          + (e.getCause() == null ? e : e.getCause()), e);
    }
  }

  static long lag(Admin client, String group, String topic)
      throws InterruptedException, ExecutionException, TimeoutException {
    long timeout = TIMEOUT.toMillis();
    Map<TopicPartition, OffsetAndMetadata> committed = client.listConsumerGroupOffsets(group)
        .partitionsToOffsetAndMetadata().get(timeout, TimeUnit.MILLISECONDS);
    TopicDescription description = client.describeTopics(List.of(topic)).allTopicNames()
        .get(timeout, TimeUnit.MILLISECONDS).get(topic);
    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
    Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
    description.partitions().forEach(p -> {
      latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
      earliest.put(new TopicPartition(topic, p.partition()), OffsetSpec.earliest());
    });
    ListOffsetsOptions readCommitted = new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
    var ends = client.listOffsets(latest, readCommitted).all().get(timeout, TimeUnit.MILLISECONDS);
    var starts = client.listOffsets(earliest, readCommitted).all().get(timeout, TimeUnit.MILLISECONDS);
    long lag = 0;
    for (TopicPartition tp : latest.keySet()) {
      OffsetAndMetadata done = committed.get(tp);
      long from = done != null ? done.offset() : starts.get(tp).offset();
      lag += Math.max(0, ends.get(tp).offset() - from);
    }
    return lag;
  }
}
