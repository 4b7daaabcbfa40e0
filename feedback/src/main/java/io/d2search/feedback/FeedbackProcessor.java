package io.d2search.feedback;

import io.d2search.events.Click;
import io.d2search.events.ExampleSource;
import io.d2search.events.FeedbackSession;
import io.d2search.events.Impression;
import io.d2search.events.Negative;
import io.d2search.events.RankedPassage;
import io.d2search.events.SessionClick;
import io.d2search.events.TrainingExample;
import io.d2search.schemas.AvroSerde;
import io.d2search.schemas.DeadLetter;
import io.d2search.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Joins the impressions and clicks of one task's partitions (both topics are keyed by query id and have the same
 * partition count, so a query's impression and clicks meet in one task). The rules are {@link FeedbackTopology}'s.
 *
 * <p>Not thread-safe: Kafka Streams makes one instance per task and calls it from one thread.
 */
final class FeedbackProcessor implements Processor<byte[], byte[], Object, Object> {
  /** Stream-time period of the sweep that decides sessions whose deadline has passed. */
  static final Duration SWEEP_PERIOD = Duration.ofSeconds(10);

  private final FeedbackConfig config;
  private final FeedbackMetrics metrics;
  private final AvroSerde<Impression> impressionSerde = Topics.impressionSerde();
  private final AvroSerde<Click> clickSerde = Topics.clickSerde();
  private ProcessorContext<Object, Object> context;
  private KeyValueStore<String, FeedbackSession> sessions;
  private KeyValueStore<String, String> deadlines;
  /** Wall-clock time of the last record processed, for the idle sweep. */
  private long lastRecordWallMs;

  FeedbackProcessor(FeedbackConfig config, FeedbackMetrics metrics) {
    this.config = config;
    this.metrics = metrics;
  }

  @Override
  public void init(ProcessorContext<Object, Object> context) {
    this.context = context;
    this.sessions = context.getStateStore(FeedbackTopology.SESSION_STORE);
    this.deadlines = context.getStateStore(FeedbackTopology.DEADLINE_STORE);
    // Stream time: a replay decides exactly as the first run did, and tests control time with timestamps.
    context.schedule(SWEEP_PERIOD, PunctuationType.STREAM_TIME, this::sweep);
    // A quiet partition's stream time stands still, and its last searches would wait for the next record. While no
    // record arrives, time is stream time moved on by the idle wall-clock time: a replay (records flowing) is never
    // idle, so it still decides as the first run did.
    lastRecordWallMs = context.currentSystemTimeMs();
    context.schedule(SWEEP_PERIOD, PunctuationType.WALL_CLOCK_TIME, now -> {
      long idle = now - lastRecordWallMs;
      long streamTime = context.currentStreamTimeMs();
      if (idle >= SWEEP_PERIOD.toMillis() && streamTime >= 0) {
        sweep(streamTime + idle);
      }
    });
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    lastRecordWallMs = context.currentSystemTimeMs();
    String topic = context.recordMetadata().map(RecordMetadata::topic).orElse("");
    boolean isClick = Topics.CLICKS.equals(topic);
    (isClick ? metrics.clicks : metrics.impressions).increment();
    String key = utf8(record.key());
    if (key == null) {
      deadLetter(record, "key", "record key is missing or not UTF-8; it must be the query id");
      return;
    }
    try {
      if (isClick) {
        onClick(key, clickSerde.decodeStrict(record.value()), record);
      } else {
        onImpression(key, impressionSerde.decodeStrict(record.value()), record);
      }
    } catch (SerializationException e) {
      deadLetter(record, "decode", (isClick ? "click" : "impression") + " does not decode: " + e.getMessage());
    }
  }

  private void onImpression(String key, Impression impression, Record<byte[], byte[]> record) {
    if (!key.equals(impression.getQueryId())) {
      deadLetter(record, "key", "record key '" + key + "' differs from query id '" + impression.getQueryId() + "'");
      return;
    }
    FeedbackSession session = sessions.get(key);
    if (session != null && session.getQuery() != null) {
      metrics.duplicateImpressions.increment(); // a replay of the same search: the first copy stands
      return;
    }
    List<String> shown = new ArrayList<>(impression.getResults().size());
    List<String> teams = new ArrayList<>();
    boolean interleaved = impression.getCanaryVersion() != null;
    for (RankedPassage p : impression.getResults()) {
      shown.add(p.getPassageId());
      if (interleaved) {
        teams.add(p.getTeam() == null ? "" : p.getTeam().name());
      }
    }
    long servedAt = impression.getTs().toEpochMilli();
    FeedbackSession joined = FeedbackSession.newBuilder()
        .setQueryId(key).setQuery(impression.getQuery()).setModelVersion(impression.getModelVersion())
        .setMode(impression.getMode()).setShown(shown).setCanaryVersion(impression.getCanaryVersion())
        .setTeams(teams).setImpressionTs(servedAt).setClicks(new ArrayList<>())
        .setDeadline(servedAt + config.window().toMillis() + config.grace().toMillis()).setClosed(false).build();
    if (session != null) { // clicks came first: each is checked now, as if it had arrived after the impression
      unschedule(session);
      for (SessionClick c : session.getClicks()) {
        take(joined, c);
      }
    }
    save(joined);
  }

  private void onClick(String key, Click click, Record<byte[], byte[]> record) {
    if (!key.equals(click.getQueryId())) {
      deadLetter(record, "key", "record key '" + key + "' differs from query id '" + click.getQueryId() + "'");
      return;
    }
    SessionClick c = SessionClick.newBuilder().setPassageId(click.getPassageId()).setRank(click.getRank())
        .setDwellMs(click.getDwellMs()).setTs(click.getTs().toEpochMilli())
        .setRaw(ByteBuffer.wrap(record.value())).build();
    FeedbackSession session = sessions.get(key);
    if (session == null) { // no impression yet: wait for it up to the grace period
      session = FeedbackSession.newBuilder().setQueryId(key).setClicks(new ArrayList<>(List.of(c)))
          .setDeadline(Math.max(c.getTs(), context.currentStreamTimeMs()) + config.grace().toMillis()).build();
      save(session);
      return;
    }
    if (session.getClosed()) {
      deadLetter(record, "late", "click on query " + key + " arrived after its feedback window closed (search at "
          + Instant.ofEpochMilli(session.getImpressionTs()) + ", window " + config.window() + ", grace "
          + config.grace() + ")");
      return;
    }
    if (session.getQuery() == null) {
      merge(session, c);
    } else {
      take(session, c);
    }
    sessions.put(key, session);
  }

  /** Checks a click against the session's impression and keeps it, or dead-letters it with the reason. */
  private void take(FeedbackSession session, SessionClick c) {
    long windowEnd = session.getImpressionTs() + config.window().toMillis();
    int at = session.getShown().indexOf(c.getPassageId());
    if (at < 0) {
      deadLetterClick(session.getQueryId(), c, "not-shown", "passage " + c.getPassageId() + " was not shown for query "
          + session.getQueryId() + " (" + session.getShown().size() + " results)");
    } else if (c.getTs() > windowEnd) {
      deadLetterClick(session.getQueryId(), c, "late", "click on query " + session.getQueryId() + " at " + Instant.ofEpochMilli(c.getTs())
          + " is after its window (search at " + Instant.ofEpochMilli(session.getImpressionTs()) + " + "
          + config.window() + ")");
    } else {
      if (c.getRank() != at + 1) {
        metrics.rankMismatches.increment();
        c.setRank(at + 1); // the impression says where it was shown
      }
      merge(session, c);
    }
  }

  /** One click per passage: a repeat keeps the first click's time and the longest dwell. */
  private void merge(FeedbackSession session, SessionClick c) {
    for (SessionClick kept : session.getClicks()) {
      if (kept.getPassageId().equals(c.getPassageId())) {
        metrics.duplicateClicks.increment();
        kept.setDwellMs(Math.max(kept.getDwellMs(), c.getDwellMs()));
        return;
      }
    }
    session.getClicks().add(c);
  }

  /** Decides every session whose deadline is at or before stream time {@code now}. */
  private void sweep(long now) {
    List<KeyValue<String, String>> due = new ArrayList<>();
    try (KeyValueIterator<String, String> it = deadlines.range(deadlineKey(0, ""), deadlineKey(now, "\uffff"))) {
      it.forEachRemaining(due::add);
    }
    for (KeyValue<String, String> entry : due) {
      deadlines.delete(entry.key);
      FeedbackSession session = sessions.get(entry.value);
      if (session == null || session.getDeadline() > now) {
        continue; // rescheduled since (an impression joined pending clicks)
      }
      if (session.getClosed()) {
        sessions.delete(session.getQueryId());
      } else if (session.getQuery() == null) {
        for (SessionClick c : session.getClicks()) {
          deadLetterClick(session.getQueryId(), c, "unknown-query", "no impression for query id " + session.getQueryId() + " within "
              + config.grace() + " of the click");
        }
        sessions.delete(session.getQueryId());
      } else {
        decide(session);
        session.setClosed(true);
        session.setClicks(new ArrayList<>());
        session.setDeadline(now + config.grace().toMillis());
        save(session);
      }
    }
  }

  /** Emits the session's example, if it has one: positives, and the skipped results shown above them. */
  private void decide(FeedbackSession session) {
    List<String> shown = session.getShown();
    Set<String> clicked = new HashSet<>();
    boolean[] positive = new boolean[shown.size()];
    int lowest = 0; // the lowest-ranked positive, 1-based; 0: none
    for (SessionClick c : session.getClicks()) {
      clicked.add(c.getPassageId());
      if (c.getDwellMs() == 0 || c.getDwellMs() >= config.minDwellMs()) {
        positive[c.getRank() - 1] = true;
        lowest = Math.max(lowest, c.getRank());
      } else {
        metrics.shortDwell.increment();
      }
    }
    if (lowest == 0 && !config.emitUnclicked()) {
      metrics.unclicked.increment();
      return;
    }
    List<String> positives = new ArrayList<>();
    List<Integer> ranks = new ArrayList<>();
    // In an interleaved session each positive credits the model that picked it (team-draft interleaving).
    boolean interleaved = session.getCanaryVersion() != null && session.getTeams().size() == shown.size();
    List<String> teams = new ArrayList<>();
    List<Negative> negatives = new ArrayList<>();
    // Skip-above: a result shown above a positive and not clicked at all was seen and passed over. Without a
    // positive (emit-unclicked), every result is a negative for the teacher to label.
    int negativesTo = lowest == 0 ? shown.size() : lowest - 1;
    for (int i = 0; i < shown.size(); i++) {
      if (positive[i]) {
        positives.add(shown.get(i));
        ranks.add(i + 1);
        if (interleaved) {
          teams.add(session.getTeams().get(i));
        }
      } else if (i < negativesTo && !clicked.contains(shown.get(i))) {
        negatives.add(Negative.newBuilder().setPassageId(shown.get(i)).setRank(i + 1).build());
      }
    }
    if (lowest == 0) {
      metrics.unclicked.increment();
    }
    long windowEnd = session.getImpressionTs() + config.window().toMillis();
    TrainingExample example = TrainingExample.newBuilder()
        .setQueryId(session.getQueryId()).setQuery(session.getQuery()).setPositives(positives)
        .setPositiveRanks(ranks).setNegatives(negatives).setSource(ExampleSource.CLICKS)
        .setModelVersion(session.getModelVersion()).setMode(session.getMode())
        .setCanaryVersion(interleaved ? session.getCanaryVersion() : null).setPositiveTeams(teams)
        .setTs(Instant.ofEpochMilli(windowEnd)).build();
    context.forward(new Record<Object, Object>(session.getQueryId(), example, windowEnd), FeedbackTopology.EXAMPLES_SINK);
    metrics.examples.increment();
  }

  private void save(FeedbackSession session) {
    sessions.put(session.getQueryId(), session);
    deadlines.put(deadlineKey(session.getDeadline(), session.getQueryId()), session.getQueryId());
  }

  private void unschedule(FeedbackSession session) {
    deadlines.delete(deadlineKey(session.getDeadline(), session.getQueryId()));
  }

  /** Deadline index keys sort by time: the deadline zero-padded, then the query id. */
  static String deadlineKey(long deadline, String queryId) {
    return String.format(Locale.ROOT, "%020d|%s", Math.max(0, deadline), queryId);
  }

  private void deadLetter(Record<byte[], byte[]> record, String reason, String error) {
    RecordMetadata source = context.recordMetadata().orElse(null);
    forwardDeadLetter(record.key(), record.value(), record.headers(), reason, error,
        source == null ? "unknown" : source.topic(), source == null ? -1 : source.partition(),
        source == null ? -1 : source.offset(), record.timestamp());
  }

  /** A kept click found unusable later: its bytes as received, from the clicks topic, offset no longer known. */
  private void deadLetterClick(String queryId, SessionClick c, String reason, String error) {
    ByteBuffer raw = c.getRaw().duplicate();
    byte[] value = new byte[raw.remaining()];
    raw.get(value);
    forwardDeadLetter(queryId.getBytes(StandardCharsets.UTF_8), value,
        new org.apache.kafka.common.header.internals.RecordHeaders(), reason, error,
        Topics.CLICKS, context.taskId().partition(), -1, c.getTs());
  }

  private void forwardDeadLetter(byte[] key, byte[] value, Headers headers, String reason, String error, String topic,
      int partition, long offset, long timestamp) {
    DeadLetter letter = DeadLetter.of(key, value, headers, new DeadLetter.Reason(FeedbackTopology.STAGE + "." + reason,
        error, topic, partition, offset), config.deadLetterMaxBytes());
    context.forward(new Record<Object, Object>(letter.key(), letter.value(), timestamp, letter.headers()),
        FeedbackTopology.DLQ_SINK);
    metrics.deadLettered(reason);
  }

  private static String utf8(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
