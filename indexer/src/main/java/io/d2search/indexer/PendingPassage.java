package io.d2search.indexer;

import io.d2search.events.Passage;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.Topics;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A passage waiting in the embed buffer.
 *
 * @param passage the passage to embed, never null
 * @param timestamp the timestamp of the record it came in, given to the embedding it becomes
 * @param bufferedAtMs wall-clock time (epoch ms) it was buffered, for the queue-time metric
 */
record PendingPassage(Passage passage, long timestamp, long bufferedAtMs) {
  PendingPassage {
    Objects.requireNonNull(passage, "passage");
  }

  /**
   * Store serde: {@code timestamp} and {@code bufferedAtMs} as two big-endian longs, then the passage in Avro
   * single-object encoding. Thread-safe.
   */
  static final class StoreSerde implements Serde<PendingPassage> {
    private static final int HEADER_BYTES = 2 * Long.BYTES;
    private final AvroSerde<Passage> passages = Topics.passageSerde();

    byte[] encode(PendingPassage pending) {
      if (pending == null) {
        return null;
      }
      byte[] passage = passages.encode(pending.passage());
      return ByteBuffer.allocate(HEADER_BYTES + passage.length)
          .putLong(pending.timestamp()).putLong(pending.bufferedAtMs()).put(passage).array();
    }

    PendingPassage decode(byte[] bytes) {
      if (bytes == null) {
        return null;
      }
      if (bytes.length < HEADER_BYTES) {
        throw new SerializationException("Not a pending passage: " + bytes.length + " bytes");
      }
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      long timestamp = buffer.getLong();
      long bufferedAt = buffer.getLong();
      byte[] passage = new byte[buffer.remaining()];
      buffer.get(passage);
      return new PendingPassage(passages.decode(passage), timestamp, bufferedAt);
    }

    @Override
    public Serializer<PendingPassage> serializer() {
      return (topic, data) -> encode(data);
    }

    @Override
    public Deserializer<PendingPassage> deserializer() {
      return (topic, data) -> decode(data);
    }
  }
}
