package io.d2search.indexer;

import io.d2search.embed.Embedder;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Objects;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * {@code passages} → dynamic batching → embed → {@code embeddings}.
 *
 * <p>A passage whose title and text, under the embedder's model version, hash to what was last embedded for its
 * id ({@value #HASH_STORE}) is not embedded again. Any other passage is put into the buffer {@value #BUFFER_STORE}
 * (persistent and changelogged, keyed by passage id, so a newer version of a pending passage replaces it). The
 * buffer is flushed — one embedder call, the embeddings forwarded and the entries deleted, all in the same task —
 * when it holds {@code maxBatch} passages (synchronously, so a slow embedder blocks the stream thread and slows
 * consumption: backpressure), when no passage arrived during a whole punctuation period (the input is idle: a
 * lone passage does not wait for company), or once the oldest pending passage has waited {@code maxWaitMs}; a
 * wall-clock punctuation checks four times per {@code maxWaitMs}. Nothing is held only in memory across a commit.
 *
 * <p>If the embedder fails on a batch, its passages are embedded one by one; one that fails alone goes to
 * {@code documents.dlq} (key: passage id, value: the passage in its topic encoding, stage {@value #STAGE_EMBED})
 * and the rest flow on. A failing passage never fails the task, which would replay the same batch forever.
 *
 * <p>A passage tombstone drops any pending entry and its hash, and forwards a tombstone to {@code embeddings}.
 *
 * <p>Changing only a passage's URL or document version (same title and text) does not re-emit its embedding: the
 * record on {@code embeddings} keeps the values it was embedded with.
 *
 * <p>Meters, tagged with the output topic ({@code topic}): {@code d2search.embed.batch.size} (summary), {@code d2search.embed.latency} and
 * {@code d2search.embed.queue.time} (timers), {@code d2search.embed.passages}, {@code d2search.embed.skipped.unchanged},
 * {@code d2search.embed.tombstones} and {@code d2search.embed.dead.letters} (counters).
 */
public final class EmbedTopology {
  /** Persistent, changelogged store: passage id → passage waiting to be embedded. */
  public static final String BUFFER_STORE = "embed-buffer";
  /** Persistent, changelogged store: passage id → {@code modelVersion:textHash} of its last embedding. */
  public static final String HASH_STORE = "embedded-hash";

  static final String SOURCE = "passages-source";
  static final String PROCESSOR = "embedder";
  /** Dead-letter stage: the embedder failed on this passage alone. */
  public static final String STAGE_EMBED = "embed";

  static final String SINK = "embeddings-sink";
  static final String DLQ_SINK = "embed-dlq-sink";

  private EmbedTopology() {}

  /**
   * Builds the topology. It creates a new processor per task; the embedder and registry are shared by all of them.
   *
   * @param embedder thread-safe; not closed by the topology
   * @param maxBatch passages per embedder call that trigger a flush, {@code >= 1}
   * @param maxWaitMs longest a passage waits for a fuller batch, {@code >= 1}
   * @param registry where the embed meters go
   * @param deadLetterMaxBytes the largest record the producer may send ({@code max.request.size})
   * @throws IllegalArgumentException if maxBatch or maxWaitMs is below 1
   */
  public static Topology build(Embedder embedder, int maxBatch, long maxWaitMs, MeterRegistry registry,
      int deadLetterMaxBytes) {
    return build(embedder, maxBatch, maxWaitMs, registry, deadLetterMaxBytes, Topics.EMBEDDINGS, PassageRate.UNLIMITED);
  }

  /**
   * Builds the topology writing to {@code outputTopic} at most {@code rate} passages per second: the topology of a
   * FULL release's version ({@link ReleaseEmbedders}), which re-embeds every passage from the start of
   * {@code passages} into {@code embeddings.<version>} without starving the serving version's embedder.
   *
   * @param outputTopic where the embeddings go; its meters are tagged with it ({@code topic})
   * @param rate shared by the topology's tasks
   */
  public static Topology build(Embedder embedder, int maxBatch, long maxWaitMs, MeterRegistry registry,
      int deadLetterMaxBytes, String outputTopic, PassageRate rate) {
    Objects.requireNonNull(embedder, "embedder");
    Objects.requireNonNull(outputTopic, "outputTopic");
    Objects.requireNonNull(rate, "rate");
    if (maxBatch < 1) {
      throw new IllegalArgumentException("maxBatch must be >= 1: " + maxBatch);
    }
    if (maxWaitMs < 1) {
      throw new IllegalArgumentException("maxWaitMs must be >= 1: " + maxWaitMs);
    }
    EmbedMetrics metrics = new EmbedMetrics(Objects.requireNonNull(registry, "registry"), outputTopic);
    Topology topology = new Topology();
    topology.addSource(SOURCE, new StringDeserializer(), Topics.passageSerde().deserializer(), Topics.PASSAGES);
    topology.addProcessor(PROCESSOR, () -> new EmbedProcessor(embedder, maxBatch, maxWaitMs, metrics, deadLetterMaxBytes, rate),
        SOURCE);
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BUFFER_STORE), Serdes.String(),
            new PendingPassage.StoreSerde()),
        PROCESSOR);
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(HASH_STORE), Serdes.String(), Serdes.String()),
        PROCESSOR);
    topology.addSink(SINK, outputTopic, new StringSerializer(), Topics.embeddingSerde().serializer(),
        PROCESSOR);
    topology.addSink(DLQ_SINK, Topics.DOCUMENTS_DLQ, new ByteArraySerializer(), new ByteArraySerializer(),
        PROCESSOR);
    return topology;
  }
}
