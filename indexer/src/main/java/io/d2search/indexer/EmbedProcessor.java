package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.header.internals.RecordHeaders;
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
 * Buffers passages in a state store and embeds them in batches; see {@link EmbedTopology}. Outputs go to two sinks
 * of different types (embeddings, and dead letters as raw bytes), hence the {@code Object} output types; every
 * forward names its sink.
 *
 * <p>Not thread-safe: Kafka Streams makes one instance per task and calls {@code process} and the punctuator
 * from the task's thread.
 */
final class EmbedProcessor implements Processor<String, Passage, Object, Object> {
  private static final Logger log = LoggerFactory.getLogger(EmbedProcessor.class);

  private final Embedder embedder;
  private final String modelVersion;
  private final int maxBatch;
  private final long maxWaitMs;
  private final EmbedMetrics metrics;
  private final int deadLetterMaxBytes;
  private final PassageRate rate;
  private final AvroSerde<Passage> passageSerde = Topics.passageSerde();
  private ProcessorContext<Object, Object> context;
  private KeyValueStore<String, PendingPassage> buffer;
  private KeyValueStore<String, String> hashes;
  /** Exact entry count of the buffer (RocksDB only estimates it); recounted from the store in init. */
  private int pending;
  /** Wall-clock time the oldest pending passage was buffered (or restored); meaningful while pending > 0. */
  private long oldestPendingMs;
  /** Whether a passage was buffered since the last punctuation: false at a punctuation means the input is idle. */
  private boolean arrivedSincePunctuation;

  EmbedProcessor(Embedder embedder, int maxBatch, long maxWaitMs, EmbedMetrics metrics, int deadLetterMaxBytes,
      PassageRate rate) {
    this.rate = rate;
    this.deadLetterMaxBytes = deadLetterMaxBytes;
    this.embedder = embedder;
    this.modelVersion = embedder.info().version();
    this.maxBatch = maxBatch;
    this.maxWaitMs = maxWaitMs;
    this.metrics = metrics;
  }

  @Override
  public void init(ProcessorContext<Object, Object> context) {
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
    // A batch goes when the input goes idle (no passage arrived during a whole punctuation period: a trickle of
    // single documents need not wait for company that is not coming) or once its oldest passage has waited
    // maxWaitMs (a steady stream keeps filling it). Flushing whatever is there at every punctuation instead would
    // embed batches of one under load: after an embed call longer than the period the next punctuation is already
    // due when the next passage arrives. Four checks per maxWaitMs bound the wait at 1.25 x maxWaitMs.
    context.schedule(Duration.ofMillis(punctuationPeriodMs(maxWaitMs)), PunctuationType.WALL_CLOCK_TIME, now -> {
      if (pending > 0 && (!arrivedSincePunctuation || now - oldestPendingMs >= maxWaitMs)) {
        flush();
      }
      arrivedSincePunctuation = false;
    });
  }

  /** How often the batch deadline is checked: a quarter of the longest wait, at least 1 ms. */
  static long punctuationPeriodMs(long maxWaitMs) {
    return Math.max(1, maxWaitMs / 4);
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
      context.forward(new Record<Object, Object>(key, null, record.timestamp()), EmbedTopology.SINK);
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
    arrivedSincePunctuation = true;
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
    List<float[]> vectors = embedAll(texts);
    long now = context.currentSystemTimeMs();
    int embedded = 0;
    for (int i = 0; i < batch.size(); i++) {
      String key = batch.get(i).key;
      PendingPassage entry = batch.get(i).value;
      buffer.delete(key);
      if (vectors.get(i) == null) {
        deadLetter(key, entry, failures.get(i));
        continue;
      }
      String textHash = TextHash.sha256(texts.get(i));
      context.forward(new Record<Object, Object>(key, embedding(entry.passage(), vectors.get(i), textHash),
          entry.timestamp()), EmbedTopology.SINK);
      hashes.put(key, marker(textHash, entry.passage()));
      metrics.queueTime.record(Math.max(0, now - entry.bufferedAtMs()), TimeUnit.MILLISECONDS);
      embedded++;
    }
    pending = 0;
    failures.clear();
    metrics.batchSize.record(batch.size());
    metrics.embedded.increment(embedded);
  }

  /** Why each text of the last {@link #embedAll} failed alone, by position; empty when the batch succeeded. */
  private final java.util.Map<Integer, String> failures = new java.util.HashMap<>();

  /**
   * Embeds a batch; if the embedder fails on it, each text alone, so that one text it cannot take does not fail
   * the whole batch again on every replay (which would stop the partition for good). A text that fails alone gets
   * a null vector and its reason in {@link #failures}.
   */
  private List<float[]> embedAll(List<String> texts) {
    rate.acquire(texts.size()); // a FULL release's re-embedding leaves the CPU to the serving version
    long started = System.nanoTime();
    try {
      List<float[]> vectors = embedder.embed(texts);
      metrics.latency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
      return vectors;
    } catch (RuntimeException batchFailure) {
      log.warn("Embedder failed on a batch of {}; embedding its passages one by one: {}", texts.size(),
          batchFailure.toString());
    }
    List<float[]> vectors = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      try {
        vectors.add(embedder.embed(List.of(texts.get(i))).get(0));
      } catch (RuntimeException e) {
        vectors.add(null);
        failures.put(i, e.toString());
      }
    }
    return vectors;
  }

  /**
   * Sends a passage the embedder cannot take to the dead-letter topic: the passage in its topic encoding, keyed by
   * passage id, stage {@value EmbedTopology#STAGE_EMBED}. The buffered passage no longer knows its source offset
   * (-1 in the header); the partition is the task's.
   */
  private void deadLetter(String key, PendingPassage entry, String error) {
    DeadLetter letter = DeadLetter.of(key.getBytes(StandardCharsets.UTF_8), passageSerde.encode(entry.passage()),
        new RecordHeaders(), new DeadLetter.Reason(EmbedTopology.STAGE_EMBED, error, Topics.PASSAGES,
            context.taskId().partition(), -1), deadLetterMaxBytes);
    context.forward(new Record<Object, Object>(letter.key(), letter.value(), entry.timestamp(), letter.headers()),
        EmbedTopology.DLQ_SINK);
    metrics.deadLettered.increment();
    log.warn("Dead-lettered passage {} at stage {}: {}", key, EmbedTopology.STAGE_EMBED, letter.error());
  }

  /**
   * What the embedding on the topic was made from: model, embedded text and, when the passage has any, what it
   * carries besides (URL, attributes), so that a change of those alone is written too (it re-embeds: rare, and the
   * store keeps no vectors to re-send).
   */
  private String marker(Passage p) {
    return marker(TextHash.sha256(EmbedText.of(p.getTitle(), p.getText())), p);
  }

  private String marker(String textHash, Passage p) {
    String marker = modelVersion + ":" + textHash;
    if (p.getUrl() == null && p.getAttributes().isEmpty()) {
      return marker; // as markers were before passages carried attributes: no re-embedding after an upgrade
    }
    return marker + ":" + TextHash.sha256(p.getUrl() + "\0" + new java.util.TreeMap<>(p.getAttributes()));
  }

  private PassageEmbedding embedding(Passage p, float[] vector, String textHash) {
    List<Float> values = new ArrayList<>(vector.length);
    for (float v : vector) {
      values.add(v);
    }
    return PassageEmbedding.newBuilder()
        .setDocId(p.getDocId()).setN(p.getN()).setModelVersion(modelVersion).setVector(values)
        .setTextHash(textHash).setTitle(p.getTitle()).setText(p.getText()).setDocVersion(p.getDocVersion())
        .setUrl(p.getUrl()).setAttributes(p.getAttributes())
        .build();
  }
}
