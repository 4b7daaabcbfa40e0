package io.d2search.index;

import java.util.Collections;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;

/**
 * The Lucene commit user data of a {@link PassageIndex}: its model version, its format and attribute schema (what
 * its fields mean), and, per partition, the offset of the next record to apply ({@code offset:embeddings:3 -> 1234}).
 */
final class CommitData {
  static final Comparator<TopicPartition> PARTITION_ORDER =
      Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition);

  private CommitData() {}

  static Map<String, String> of(String modelVersion, String attributes, Map<TopicPartition, Long> offsets) {
    Map<String, String> data = new TreeMap<>();
    data.put(PassageIndex.MODEL_VERSION_KEY, modelVersion);
    data.put(PassageIndex.FORMAT_KEY, PassageIndex.FORMAT);
    data.put(PassageIndex.ATTRIBUTES_KEY, attributes);
    offsets.forEach((tp, offset) ->
        data.put(PassageIndex.OFFSET_PREFIX + tp.topic() + ":" + tp.partition(), Long.toString(offset)));
    return data;
  }

  /**
   * The offsets in commit user data.
   *
   * @throws IllegalStateException if an offset entry is malformed (the index was not written by this class)
   */
  static Map<TopicPartition, Long> offsets(Map<String, String> userData) {
    Map<TopicPartition, Long> offsets = new TreeMap<>(PARTITION_ORDER);
    userData.forEach((key, value) -> {
      if (!key.startsWith(PassageIndex.OFFSET_PREFIX)) {
        return;
      }
      String rest = key.substring(PassageIndex.OFFSET_PREFIX.length());
      int colon = rest.lastIndexOf(':');
      try {
        offsets.put(new TopicPartition(rest.substring(0, colon), Integer.parseInt(rest.substring(colon + 1))),
            Long.parseLong(value));
      } catch (RuntimeException e) {
        throw new IllegalStateException("Malformed offset in the index commit: " + key + "=" + value, e);
      }
    });
    return Collections.unmodifiableMap(offsets);
  }
}
