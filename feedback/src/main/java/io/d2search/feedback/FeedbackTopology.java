package io.d2search.feedback;

import io.d2search.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Objects;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * {@code impressions} ⋈ {@code clicks} by query id → {@code training-pairs}; what cannot be used →
 * {@code feedback.dlq}. The first step of the retraining loop: what users clicked becomes what the model learns.
 *
 * <p><b>Sessions.</b> A query id's impression opens a session: the query, the model version and mode that ranked
 * it, the passages in the order shown. Clicks join it for {@code window} after the search. The session is decided
 * when stream time passes {@code search time + window + grace}: its example is emitted, keyed by query id, stamped
 * with the window's end, with
 * <ul>
 *   <li>positives: the clicked passages whose dwell is at least {@code minDwellMs}, or unknown (0), with the rank
 *       the impression showed them at ({@code positiveRanks});
 *   <li>hard negatives (skip-above): the results shown above the lowest positive and not clicked at all, with their
 *       ranks. A click with a short dwell is neither.
 * </ul>
 * A search with no positive emits nothing, unless {@code emitUnclicked} (then every result is a negative, for the
 * teacher to label).
 *
 * <p><b>Odd input has a rule and a counter, never a crash</b> ({@link FeedbackMetrics}):
 * <ul>
 *   <li>a record that does not decode, or whose key is missing or differs from its query id → dead letter;
 *   <li>a click that arrives before its impression waits for it up to {@code grace}; if none comes, it is dead-
 *       lettered as {@code unknown-query};
 *   <li>a click on a passage the impression did not show → dead letter ({@code not-shown});
 *   <li>a click after the window, or after the session was decided (remembered for {@code grace} more) → dead
 *       letter ({@code late});
 *   <li>a second click on the same passage → merged (longest dwell); a reported rank that differs from the
 *       impression's → the impression's rank is used; a second impression of a query id (a replay) → dropped.
 * </ul>
 * Dead letters are the bytes as received with {@link Topics#HEADER_ERROR} and {@link Topics#HEADER_STAGE}
 * ({@code feedback.<reason>}), as {@code documents.dlq}'s are.
 *
 * <p>Time is stream time (the records' timestamps), so a replay decides exactly as the first run did; the sweep runs
 * every {@link FeedbackProcessor#SWEEP_PERIOD} of stream time. A partition with no new record would hold its last
 * sessions forever, so while a task is idle its time is stream time plus the idle wall-clock time (a replay, whose
 * records keep flowing, is never idle). Exactly-once comes from the application's
 * {@code processing.guarantee}: state, examples and dead letters commit together.
 */
public final class FeedbackTopology {
  /** Persistent, changelogged store: query id → {@code FeedbackSession}. */
  public static final String SESSION_STORE = "feedback-sessions";
  /** Persistent, changelogged store: {@code deadline|queryId} → query id, the sessions in deadline order. */
  public static final String DEADLINE_STORE = "feedback-deadlines";
  /** Dead-letter stage prefix. */
  public static final String STAGE = "feedback";

  static final String IMPRESSIONS_SOURCE = "impressions-source";
  static final String CLICKS_SOURCE = "clicks-source";
  static final String PROCESSOR = "feedback-join";
  static final String EXAMPLES_SINK = "training-pairs-sink";
  static final String DLQ_SINK = "feedback-dlq-sink";

  private FeedbackTopology() {}

  /** Builds the topology; a new processor per task. */
  public static Topology build(FeedbackConfig config, MeterRegistry registry) {
    Objects.requireNonNull(config, "config");
    FeedbackMetrics metrics = new FeedbackMetrics(Objects.requireNonNull(registry, "registry"));
    Topology topology = new Topology();
    topology.addSource(IMPRESSIONS_SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(),
        Topics.IMPRESSIONS);
    topology.addSource(CLICKS_SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(), Topics.CLICKS);
    topology.addProcessor(PROCESSOR, () -> new FeedbackProcessor(config, metrics), IMPRESSIONS_SOURCE, CLICKS_SOURCE);
    topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SESSION_STORE),
        Serdes.String(), Topics.feedbackSessionSerde()), PROCESSOR);
    topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DEADLINE_STORE),
        Serdes.String(), Serdes.String()), PROCESSOR);
    topology.addSink(EXAMPLES_SINK, Topics.TRAINING_PAIRS, new StringSerializer(),
        Topics.trainingExampleSerde().serializer(), PROCESSOR);
    topology.addSink(DLQ_SINK, Topics.FEEDBACK_DLQ, new ByteArraySerializer(), new ByteArraySerializer(), PROCESSOR);
    return topology;
  }
}
