package io.d2search.schemas;

import io.d2search.events.Click;
import io.d2search.events.DocumentEvent;
import io.d2search.events.FeedbackSession;
import io.d2search.events.Impression;
import io.d2search.events.ModelRelease;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.TrainingExample;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.avro.Schema;

/** Topic names and the value serde of each (docs/architecture.md, "Topics"). Keys are UTF-8 strings. */
public final class Topics {
  private Topics() {}

  /** Input: {@link DocumentEvent} keyed by document id. */
  public static final String DOCUMENTS = "documents";
  /** Raw bytes of rejected input records, with headers naming the error, stage and source offset. */
  public static final String DOCUMENTS_DLQ = "documents.dlq";
  /** Compacted: {@link Passage} keyed by passage id {@code docId#n}, tombstone when gone. */
  public static final String PASSAGES = "passages";
  /** Compacted: {@link PassageEmbedding} keyed by passage id, tombstone when gone. */
  public static final String EMBEDDINGS = "embeddings";
  /** Prefix of the embeddings topic of a FULL release's version: {@link #embeddingsTopicOf}. */
  public static final String EMBEDDINGS_VERSION_PREFIX = EMBEDDINGS + ".";
  /** {@link Impression} keyed by query id. */
  public static final String IMPRESSIONS = "impressions";
  /** {@link Click} keyed by query id. */
  public static final String CLICKS = "clicks";
  /** Raw bytes of impressions and clicks the feedback join could not use, with headers naming why. */
  public static final String FEEDBACK_DLQ = "feedback.dlq";
  /** {@link TrainingExample} keyed by query id. */
  public static final String TRAINING_PAIRS = "training-pairs";
  /** Compacted: {@link ModelRelease} keyed by its stage ({@link #CURRENT_RELEASE}, {@link #CANARY_RELEASE}). */
  public static final String MODEL_RELEASES = "model-releases";
  /** The key of the release that serves every search on {@link #MODEL_RELEASES}. */
  public static final String CURRENT_RELEASE = "current";
  /**
   * The key of the canary release on {@link #MODEL_RELEASES}: it serves a share of searches, interleaved with the
   * current one, until it is promoted (published as current) or rolled back; a tombstone withdraws it.
   */
  public static final String CANARY_RELEASE = "canary";

  /** Topics whose latest value per key is the state (cleanup.policy=compact). */
  public static final List<String> COMPACTED = List.of(PASSAGES, EMBEDDINGS, MODEL_RELEASES);
  /** Every topic of the system, in data-flow order. */
  public static final List<String> ALL =
      List.of(DOCUMENTS, DOCUMENTS_DLQ, PASSAGES, EMBEDDINGS, IMPRESSIONS, CLICKS, FEEDBACK_DLQ, TRAINING_PAIRS,
          MODEL_RELEASES);

  /** Dead-letter header: why the record was rejected. */
  public static final String HEADER_ERROR = "d2search.error";
  /** Dead-letter header: which processing stage rejected it. */
  public static final String HEADER_STAGE = "d2search.stage";
  /** Dead-letter header: topic the record was read from. */
  public static final String HEADER_SOURCE_TOPIC = "d2search.source.topic";
  /** Dead-letter header: partition the record was read from. */
  public static final String HEADER_SOURCE_PARTITION = "d2search.source.partition";
  /** Dead-letter header: offset the record had in its source partition. */
  public static final String HEADER_SOURCE_OFFSET = "d2search.source.offset";
  /**
   * Dead-letter header, present only when the dead letter had to be cut to fit the record size limit: which parts
   * were cut and their original sizes, e.g. {@code "value 1048482 bytes, kept 1047700"}. The whole record stays
   * at its source offset for as long as the source topic retains it.
   */
  public static final String HEADER_TRUNCATED = "d2search.truncated";

  /**
   * The topic that holds the passage vectors of a FULL release, {@code embeddings.<version>}, laid out like
   * {@link #EMBEDDINGS} (compacted, keyed by passage id, as many partitions as {@link #PASSAGES}). Vectors of two
   * versions never share a topic, so compaction cannot replace one version's vector with another's.
   *
   * @throws IllegalArgumentException if the version cannot be part of a topic name ({@code [A-Za-z0-9._-]}, at most
   *     200 characters)
   */
  public static String embeddingsTopicOf(String version) {
    if (version == null || !version.matches("[A-Za-z0-9._-]{1,200}")) {
      throw new IllegalArgumentException("model version cannot name a topic: " + version);
    }
    return EMBEDDINGS_VERSION_PREFIX + version;
  }

  /**
   * The version whose vectors a topic of {@link #embeddingsTopicOf} holds; null for {@link #EMBEDDINGS} and any other
   * topic.
   */
  public static String versionOfEmbeddingsTopic(String topic) {
    return topic.startsWith(EMBEDDINGS_VERSION_PREFIX) && topic.length() > EMBEDDINGS_VERSION_PREFIX.length()
        ? topic.substring(EMBEDDINGS_VERSION_PREFIX.length()) : null;
  }

  public static AvroSerde<DocumentEvent> documentSerde() {
    return AvroSerde.of(DocumentEvent.class);
  }

  public static AvroSerde<Passage> passageSerde() {
    return AvroSerde.of(Passage.class, older("Passage-v1"));
  }

  public static AvroSerde<PassageEmbedding> embeddingSerde() {
    return AvroSerde.of(PassageEmbedding.class, older("PassageEmbedding-v1"));
  }

  public static AvroSerde<Impression> impressionSerde() {
    return AvroSerde.of(Impression.class, older("Impression-v1"), older("Impression-v2"));
  }

  public static AvroSerde<Click> clickSerde() {
    return AvroSerde.of(Click.class);
  }

  public static AvroSerde<TrainingExample> trainingExampleSerde() {
    return AvroSerde.of(TrainingExample.class, older("TrainingExample-v1"));
  }

  public static AvroSerde<FeedbackSession> feedbackSessionSerde() {
    return AvroSerde.of(FeedbackSession.class, older("FeedbackSession-v1"));
  }

  public static AvroSerde<ModelRelease> modelReleaseSerde() {
    return AvroSerde.of(ModelRelease.class, older("ModelRelease-v1"));
  }

  /**
   * An earlier version of a schema, kept under {@code older/} in this package, so records written before a field was
   * added (on compacted topics they stay for good) still decode.
   */
  private static Schema older(String name) {
    try (InputStream in = Topics.class.getResourceAsStream("older/" + name + ".avsc")) {
      if (in == null) {
        throw new IllegalStateException("schema resource older/" + name + ".avsc is missing");
      }
      return new Schema.Parser().parse(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
