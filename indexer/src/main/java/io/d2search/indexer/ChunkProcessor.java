package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentState;
import io.d2search.events.Passage;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.DocumentValidator;
import io.d2search.ingest.ValidationResult;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.PassageId;
import io.d2search.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes, validates and chunks one document event. Outputs go to two sinks of different types (passages keyed by
 * string, dead letters as raw bytes), hence the {@code Object} output types; every forward names its sink.
 *
 * <p>Not thread-safe: Kafka Streams makes one instance per task and calls it from one thread.
 */
final class ChunkProcessor implements Processor<byte[], byte[], Object, Object> {
  private static final Logger log = LoggerFactory.getLogger(ChunkProcessor.class);
  /** Longest stream-time gap between sweeps of expired deletes (one hour). */
  private static final long SWEEP_PERIOD_MS = 3_600_000;

  private final Chunker chunker;
  private final DocumentValidator validator;
  private final ChunkMetrics metrics;
  private final int deadLetterMaxBytes;
  private final long deleteRetentionMs;
  private final AvroSerde<DocumentEvent> serde = Topics.documentSerde();
  private ProcessorContext<Object, Object> context;
  private KeyValueStore<String, DocumentState> states;

  ChunkProcessor(Chunker chunker, DocumentValidator validator, ChunkMetrics metrics, int deadLetterMaxBytes,
      Duration deleteRetention) {
    this.deleteRetentionMs = deleteRetention.toMillis();
    this.chunker = chunker;
    this.validator = validator;
    this.metrics = metrics;
    this.deadLetterMaxBytes = deadLetterMaxBytes;
  }

  @Override
  public void init(ProcessorContext<Object, Object> context) {
    this.context = context;
    this.states = context.getStateStore(ChunkTopology.DOCUMENT_STATE_STORE);
    // Stream time, so retention follows the events, as Kafka's own retention does, and replays behave alike.
    context.schedule(Duration.ofMillis(Math.max(1, Math.min(deleteRetentionMs, SWEEP_PERIOD_MS))),
        PunctuationType.STREAM_TIME, this::dropExpiredDeletes);
  }

  /** Forgets deleted documents whose delete is older than the retention at stream time {@code now}. */
  private void dropExpiredDeletes(long now) {
    List<String> expired = new ArrayList<>();
    try (KeyValueIterator<String, DocumentState> it = states.all()) {
      it.forEachRemaining(kv -> {
        Long deletedAt = kv.value.getDeletedAt();
        if (deletedAt != null && now - deletedAt > deleteRetentionMs) {
          expired.add(kv.key);
        }
      });
    }
    expired.forEach(states::delete);
    metrics.expiredDeletes.increment(expired.size());
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    DocumentEvent event;
    try {
      event = serde.decodeStrict(record.value()); // trailing bytes and invalid UTF-8 are dead-lettered too
    } catch (SerializationException e) {
      deadLetter(record, ChunkTopology.STAGE_DECODE, e.getMessage());
      return;
    }
    ValidationResult verdict = validator.validate(record.key(), event);
    if (!verdict.valid()) {
      deadLetter(record, ChunkTopology.STAGE_VALIDATE, verdict.reason());
      return;
    }
    String docId = event.getId();
    DocumentState state = states.get(docId);
    if (state != null && event.getVersion() < state.getVersion()) {
      metrics.stale.increment();
      log.debug("Skipped stale event for document {}: version {} < applied version {}", docId,
          event.getVersion(), state.getVersion());
      return;
    }
    int previousCount = state == null ? 0 : state.getPassages();
    switch (event.getOp()) {
      case UPSERT -> upsert(record, event, previousCount);
      case DELETE -> delete(record, docId, event.getVersion(), previousCount);
    }
  }

  private void upsert(Record<byte[], byte[]> record, DocumentEvent event, int previousCount) {
    List<String> chunks;
    try {
      chunks = chunker.chunk(event.getBody());
    } catch (RuntimeException e) {
      // The tokenizer rejecting some text is bad input, not a reason to stop the application.
      deadLetter(record, ChunkTopology.STAGE_CHUNK, e.toString());
      return;
    }
    String docId = event.getId();
    for (int n = 0; n < chunks.size(); n++) {
      Passage passage = Passage.newBuilder()
          .setDocId(docId).setN(n).setTitle(event.getTitle()).setText(chunks.get(n))
          .setDocVersion(event.getVersion()).setUrl(event.getUrl())
          .setAttributes(event.getAttributes())
          .build();
      context.forward(new Record<>(passageKey(docId, n), passage, record.timestamp()), ChunkTopology.PASSAGES_SINK);
    }
    tombstone(docId, chunks.size(), previousCount, record.timestamp());
    states.put(docId, new DocumentState(event.getVersion(), chunks.size(), null));
    metrics.upserted.increment();
    metrics.passages.increment(chunks.size());
  }

  private void delete(Record<byte[], byte[]> record, String docId, long version, int previousCount) {
    tombstone(docId, 0, previousCount, record.timestamp());
    // Remembered, not forgotten: a late older UPSERT must find this version and be skipped.
    states.put(docId, new DocumentState(version, 0, record.timestamp()));
    metrics.deleted.increment();
  }

  /** Tombstones passages {@code from..to-1}: those the previous version had and this one has not. */
  private void tombstone(String docId, int from, int to, long timestamp) {
    for (int n = from; n < to; n++) {
      context.forward(new Record<>(passageKey(docId, n), null, timestamp), ChunkTopology.PASSAGES_SINK);
    }
    metrics.tombstones.increment(Math.max(0, to - from));
  }

  private static String passageKey(String docId, int n) {
    return new PassageId(docId, n).toString();
  }

  private void deadLetter(Record<byte[], byte[]> record, String stage, String error) {
    DeadLetter.Reason reason = context.recordMetadata()
        .map(m -> new DeadLetter.Reason(stage, error, m.topic(), m.partition(), m.offset()))
        .orElseGet(() -> new DeadLetter.Reason(stage, error, "unknown", -1, -1));
    DeadLetter letter =
        DeadLetter.of(record.key(), record.value(), record.headers(), reason, deadLetterMaxBytes);
    context.forward(new Record<Object, Object>(letter.key(), letter.value(), record.timestamp(), letter.headers()),
        ChunkTopology.DLQ_SINK);
    metrics.deadLettered(stage);
    log.warn("Dead-lettered record {}-{}@{} at stage {}: {}", reason.topic(), reason.partition(), reason.offset(),
        stage, reason.error());
    letter.truncation().ifPresent(note -> log.warn("Dead letter of {}-{}@{} cut to fit {} bytes: {}",
        reason.topic(), reason.partition(), reason.offset(), deadLetterMaxBytes, note));
  }
}
