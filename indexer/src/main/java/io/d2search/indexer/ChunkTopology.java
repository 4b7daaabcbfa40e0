package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import io.d2search.events.DocumentState;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.DocumentValidator;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * {@code documents} → validate → chunk → {@code passages}; rejected records → {@code documents.dlq}.
 *
 * <p>Input is read as raw bytes so that a record which does not decode is caught here and dead-lettered, never
 * fails the application. A dead letter keeps the original key, value, timestamp and headers, and adds
 * {@link Topics#HEADER_ERROR}, {@link Topics#HEADER_STAGE} (one of {@link #STAGE_DECODE}, {@link #STAGE_VALIDATE},
 * {@link #STAGE_CHUNK}) and the source topic, partition and offset. A dead letter that would not fit the record size
 * limit is cut until it does, and says so in {@link Topics#HEADER_TRUNCATED} ({@link DeadLetter}).
 *
 * <p>A valid UPSERT emits {@code Passage} records keyed {@code docId#n} for {@code n = 0..count-1}, and tombstones
 * for the numbers its previous version had beyond that. A DELETE tombstones every passage. The store
 * {@value #DOCUMENT_STATE_STORE} keeps each document's last applied version and passage count; an event whose
 * version is lower than the stored one is skipped (counted, logged at debug), an equal one is applied again. A
 * DELETE keeps the document's state as a tombstone (version, no passages, {@code deletedAt}) for
 * {@code deleteRetention} of stream time, so that an older UPSERT arriving after the delete is skipped too, not
 * indexed again; a stream-time punctuation drops tombstones older than that.
 */
public final class ChunkTopology {
  /** Persistent, changelogged store: document id → {@code DocumentState} (last applied version, passage count). */
  public static final String DOCUMENT_STATE_STORE = "document-state";
  /** Dead-letter stage: the value is not a single-object encoded {@code DocumentEvent}. */
  public static final String STAGE_DECODE = "decode";
  /** Dead-letter stage: the event broke a validation rule. */
  public static final String STAGE_VALIDATE = "validate";
  /** Dead-letter stage: the body could not be chunked. */
  public static final String STAGE_CHUNK = "chunk";

  /** The store's first value schema (no deletedAt): states written before deletes were remembered still read. */
  static final Schema DOCUMENT_STATE_V1 = new Schema.Parser().parse("""
      {"type": "record", "name": "DocumentState", "namespace": "io.d2search.events", "fields": [
        {"name": "version", "type": "long"}, {"name": "passages", "type": "int"}]}""");

  static final String SOURCE = "documents-source";
  static final String PROCESSOR = "chunker";
  static final String PASSAGES_SINK = "passages-sink";
  static final String DLQ_SINK = "documents-dlq-sink";

  private ChunkTopology() {}

  /**
   * Builds the topology. The returned topology creates a new processor per task; the chunker, validator and
   * registry are shared by all of them (all three are thread-safe).
   *
   * @param chunker cuts bodies into passages
   * @param validator rules a document must pass
   * @param registry where the chunk metrics go ({@code d2search.chunk.*})
   * @param deadLetterMaxBytes the largest record the producer may send ({@code max.request.size}); dead letters
   *     are cut to fit it ({@link DeadLetter})
   * @param deleteRetention how long, in stream time, a deleted document's version is remembered
   */
  public static Topology build(Chunker chunker, DocumentValidator validator, MeterRegistry registry,
      int deadLetterMaxBytes, Duration deleteRetention) {
    Objects.requireNonNull(chunker, "chunker");
    Objects.requireNonNull(validator, "validator");
    ChunkMetrics metrics = new ChunkMetrics(Objects.requireNonNull(registry, "registry"));
    Topology topology = new Topology();
    // Bytes in: decoding happens in the processor, where a failure can be dead-lettered.
    topology.addSource(SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(), Topics.DOCUMENTS);
    topology.addProcessor(PROCESSOR, () -> new ChunkProcessor(chunker, validator, metrics, deadLetterMaxBytes, deleteRetention), SOURCE);
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DOCUMENT_STATE_STORE), Serdes.String(),
            AvroSerde.of(DocumentState.class, DOCUMENT_STATE_V1)),
        PROCESSOR);
    topology.addSink(PASSAGES_SINK, Topics.PASSAGES, new StringSerializer(), Topics.passageSerde().serializer(),
        PROCESSOR);
    // Dead letters are the bytes as received: the key may not even be UTF-8.
    topology.addSink(DLQ_SINK, Topics.DOCUMENTS_DLQ, new ByteArraySerializer(), new ByteArraySerializer(),
        PROCESSOR);
    return topology;
  }
}
