package io.d2search.indexer;

import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buffers passages in a state store and embeds them in batches; see {@link EmbedTopology}.
 *
 * <p>Not thread-safe: Kafka Streams makes one instance per task and calls {@code process} and the punctuator
 * from the task's thread.
 */
final class EmbedProcessor implements Processor<String, Passage, String, PassageEmbedding> {
  private static final Logger log = LoggerFactory.getLogger(EmbedProcessor.class);

  private final Embedder embedder;
  private final String modelVersion;
  private final int maxBatch;
  private final long maxWaitMs;
  private final EmbedMetrics metrics;
  private ProcessorContext<String, PassageEmbedding> context;
  private KeyValueStore<String, PendingPassage> buffer;
  private KeyValueStore<String, String> hashes;
  /** Exact entry count of the buffer (RocksDB only estimates it); recounted from the store in init. */
  private int pending;
  /** Wall-clock time the oldest pending passage was buffered (or restored); meaningful while pending > 0. */
  private long oldestPendingMs;

  EmbedProcessor(Embedder embedder, int maxBatch, long maxWaitMs, EmbedMetrics metrics) {
    this.embedder = embedder;
    this.modelVersion = embedder.info().version();
    this.maxBatch = maxBatch;
    this.maxWaitMs = maxWaitMs;
    this.metrics = metrics;
  }

  @Override
  public void init(ProcessorContext<String, PassageEmbedding> context) {
    this.context = context;
    this.buffer = context.getStateStore(EmbedTopology.BUFFER_STORE);
    this.hashes = context.getStateStore(EmbedTopology.HASH_STORE);
    // Stores are restored before init: passages buffered before a crash or rebalance are counted and flushed.
    pending = 0;
    try (KeyValueIterator<String, PendingPassage> it = buffer.all()) {
      while (it.hasNext()) {
        it.next();
        pending++;
      }
    }
    oldestPendingMs = context.currentSystemTimeMs();
    // The punctuator only checks the age of the oldest pending passage: flushing whatever is there whenever it
    // fires would embed batches of one each time an embed call ran longer than the period (the next
    // punctuation is then already due when the next passage arrives). Checking twice per period bounds the
    // wait at 1.5 x maxWaitMs.
    context.schedule(Duration.ofMillis(Math.max(1, maxWaitMs / 2)), PunctuationType.WALL_CLOCK_TIME, now -> {
      if (pending > 0 && now - oldestPendingMs >= maxWaitMs) {
        flush();
      }
    });
  }

  @Override
  public void process(Record<String, Passage> record) {
    String key = record.key();
    if (key == null) {
      log.warn("Skipped a passage without key on the passages topic (written by something other than the indexer?)");
      return;
    }
    Passage passage = record.value();
    if (passage == null) {
      dropPending(key);
      hashes.delete(key);
      context.forward(new Record<String, PassageEmbedding>(key, null, record.timestamp()));
      metrics.tombstones.increment();
      return;
    }
    if (marker(passage).equals(hashes.get(key))) {
      // Same text under the same model: the embedding on the topic is still right; a pending newer text is moot.
      dropPending(key);
      metrics.skippedUnchanged.increment();
      return;
    }
    if (buffer.get(key) == null) {
      if (pending == 0) {
        oldestPendingMs = context.currentSystemTimeMs();
      }
      pending++;
    }
    buffer.put(key, new PendingPassage(passage, record.timestamp(), context.currentSystemTimeMs()));
    if (pending >= maxBatch) {
      flush(); // on the stream thread: a slow embedder slows consumption instead of growing the buffer
    }
  }

  private void dropPending(String key) {
    if (buffer.delete(key) != null) {
      pending--;
    }
  }

  /** Embeds everything in the buffer, forwards the embeddings and empties the buffer. */
  private void flush() {
    List<KeyValue<String, PendingPassage>> batch = new ArrayList<>(pending);
    try (KeyValueIterator<String, PendingPassage> it = buffer.all()) {
      it.forEachRemaining(batch::add);
    }
    if (batch.isEmpty()) {
      pending = 0;
      return;
    }
    List<String> texts = new ArrayList<>(batch.size());
    for (KeyValue<String, PendingPassage> entry : batch) {
      Passage p = entry.value.passage();
      texts.add(EmbedText.of(p.getTitle(), p.getText()));
    }
    long started = System.nanoTime();
    List<float[]> vectors = embedder.embed(texts);
    metrics.latency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
    long now = context.currentSystemTimeMs();
    for (int i = 0; i < batch.size(); i++) {
      String key = batch.get(i).key;
      PendingPassage entry = batch.get(i).value;
      String textHash = TextHash.sha256(texts.get(i));
      context.forward(new Record<>(key, embedding(entry.passage(), vectors.get(i), textHash), entry.timestamp()));
      hashes.put(key, modelVersion + ":" + textHash);
      buffer.delete(key);
      metrics.queueTime.record(Math.max(0, now - entry.bufferedAtMs()), TimeUnit.MILLISECONDS);
    }
    pending = 0;
    metrics.batchSize.record(batch.size());
    metrics.embedded.increment(batch.size());
  }

  private String marker(Passage p) {
    return modelVersion + ":" + TextHash.sha256(EmbedText.of(p.getTitle(), p.getText()));
  }

  private PassageEmbedding embedding(Passage p, float[] vector, String textHash) {
    List<Float> values = new ArrayList<>(vector.length);
    for (float v : vector) {
      values.add(v);
    }
    return PassageEmbedding.newBuilder()
        .setDocId(p.getDocId()).setN(p.getN()).setModelVersion(modelVersion).setVector(values)
        .setTextHash(textHash).setTitle(p.getTitle()).setText(p.getText()).setDocVersion(p.getDocVersion())
        .setUrl(p.getUrl())
        .build();
  }
}
