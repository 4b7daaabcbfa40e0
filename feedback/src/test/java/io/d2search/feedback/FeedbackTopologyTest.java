package io.d2search.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.events.Click;
import io.d2search.events.ExampleSource;
import io.d2search.events.Impression;
import io.d2search.events.Negative;
import io.d2search.events.RankedPassage;
import io.d2search.events.TrainingExample;
import io.d2search.schemas.Topics;
import io.d2search.testkit.Randomized;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/** The feedback join in TopologyTestDriver, one test per rule, time given by each record's timestamp. */
class FeedbackTopologyTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final Duration WINDOW = Duration.ofMinutes(30);
  private static final Duration GRACE = Duration.ofMinutes(5);
  private static final FeedbackConfig CONFIG = FeedbackConfig.DEFAULTS.withWindow(WINDOW, GRACE).withMinDwellMs(5000);

  @TempDir Path stateDir;
  private SimpleMeterRegistry registry;
  private TopologyTestDriver driver;
  private TestInputTopic<byte[], byte[]> impressions;
  private TestInputTopic<byte[], byte[]> clicks;
  private TestOutputTopic<String, TrainingExample> examples;
  private TestOutputTopic<byte[], byte[]> deadLetters;

  private void start(FeedbackConfig config) {
    registry = new SimpleMeterRegistry();
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "feedback-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    driver = new TopologyTestDriver(FeedbackTopology.build(config, registry), props, T0);
    impressions = driver.createInputTopic(Topics.IMPRESSIONS, new ByteArraySerializer(), new ByteArraySerializer());
    clicks = driver.createInputTopic(Topics.CLICKS, new ByteArraySerializer(), new ByteArraySerializer());
    examples = driver.createOutputTopic(Topics.TRAINING_PAIRS, new StringDeserializer(),
        Topics.trainingExampleSerde().deserializer());
    deadLetters = driver.createOutputTopic(Topics.FEEDBACK_DLQ, new ByteArrayDeserializer(),
        new ByteArrayDeserializer());
  }

  @BeforeEach
  void startDefault() {
    start(CONFIG);
  }

  @AfterEach
  void closeDriver() {
    driver.close();
  }

  private static Impression impression(String queryId, Instant at, String... shown) {
    List<RankedPassage> results = new ArrayList<>();
    for (int i = 0; i < shown.length; i++) {
      results.add(RankedPassage.newBuilder().setPassageId(shown[i]).setScore(1f - i / 100f).setFirstStageRank(i + 1)
          .build());
    }
    return Impression.newBuilder().setQueryId(queryId).setQuery("query " + queryId).setModelVersion("0")
        .setMode("hybrid").setReranked(false).setResults(results).setTs(at).build();
  }

  private void show(Impression impression) {
    impressions.pipeInput(new TestRecord<>(bytes(impression.getQueryId()),
        Topics.impressionSerde().encode(impression), impression.getTs()));
  }

  private void click(String queryId, String passageId, int rank, long dwellMs, Instant at) {
    Click click = Click.newBuilder().setQueryId(queryId).setPassageId(passageId).setRank(rank).setDwellMs(dwellMs)
        .setTs(at).build();
    clicks.pipeInput(new TestRecord<>(bytes(queryId), Topics.clickSerde().encode(click), at));
  }

  /** Moves stream time on with a record of another query (stream time is the largest timestamp seen). */
  private void advanceTo(Instant at) {
    show(impression("clock-" + at.toEpochMilli(), at, "x#0"));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private double counter(String name) {
    return registry.get(name).counter().count();
  }

  private double deadLettered(String reason) {
    var found = registry.find("d2search.feedback.dead-letters").tag("reason", reason).counter();
    return found == null ? 0 : found.count();
  }

  private static String header(TestRecord<byte[], byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private List<TestRecord<String, TrainingExample>> examplesFor(String queryId) {
    return examples.readRecordsToList().stream().filter(r -> r.key().equals(queryId)).toList();
  }

  @Test
  void aClickMakesAPositiveAndTheSkippedResultsAboveItHardNegatives() {
    show(impression("q1", T0, "a#0", "b#0", "c#0", "d#0", "e#0"));
    click("q1", "c#0", 3, 12_000, T0.plusSeconds(20));
    click("q1", "b#0", 2, 0, T0.plusSeconds(40)); // dwell unknown: still a positive
    advanceTo(T0.plus(WINDOW).plus(GRACE).minusMillis(1));
    assertThat(examples.isEmpty()).as("the window and grace have not passed").isTrue();
    advanceTo(T0.plus(WINDOW).plus(GRACE));

    List<TestRecord<String, TrainingExample>> out = examplesFor("q1");
    assertThat(out).hasSize(1);
    TrainingExample e = out.get(0).value();
    assertThat(e.getQuery()).isEqualTo("query q1");
    assertThat(e.getPositives()).containsExactly("b#0", "c#0");
    assertThat(e.getPositiveRanks()).containsExactly(2, 3);
    assertThat(e.getNegatives()).extracting(Negative::getPassageId, Negative::getRank)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("a#0", 1));
    assertThat(e.getSource()).isEqualTo(ExampleSource.CLICKS);
    assertThat(e.getModelVersion()).isEqualTo("0");
    assertThat(e.getMode()).isEqualTo("hybrid");
    assertThat(out.get(0).getRecordTime()).as("stamped with the window's end").isEqualTo(T0.plus(WINDOW));
    assertThat(counter("d2search.feedback.examples")).isEqualTo(1);
    assertThat(deadLetters.isEmpty()).isTrue();
  }

  /** An interleaved search: each positive credits the model whose ranking picked it, and the example says so. */
  @Test
  void anInterleavedSearchsPositivesCarryTheTeamThatPickedThem() {
    Impression shown = impression("q1", T0, "a#0", "b#0", "c#0", "d#0");
    List<RankedPassage> teamed = new ArrayList<>();
    io.d2search.events.Team[] teams = {io.d2search.events.Team.CANARY, io.d2search.events.Team.CURRENT,
        io.d2search.events.Team.CURRENT, io.d2search.events.Team.CANARY};
    for (int i = 0; i < teams.length; i++) {
      teamed.add(RankedPassage.newBuilder(shown.getResults().get(i)).setTeam(teams[i]).build());
    }
    show(Impression.newBuilder(shown).setResults(teamed).setCanaryVersion("loop-2").build());
    click("q1", "b#0", 2, 12_000, T0.plusSeconds(5));
    click("q1", "d#0", 4, 12_000, T0.plusSeconds(9));
    show(impression("q2", T0, "a#0", "b#0")); // not interleaved
    click("q2", "a#0", 1, 12_000, T0.plusSeconds(5));
    advanceTo(T0.plus(WINDOW).plus(GRACE));

    List<TestRecord<String, TrainingExample>> out = examples.readRecordsToList();
    TrainingExample e1 = out.stream().filter(r -> r.key().equals("q1")).findFirst().orElseThrow().value();
    assertThat(e1.getCanaryVersion()).isEqualTo("loop-2");
    assertThat(e1.getPositives()).containsExactly("b#0", "d#0");
    assertThat(e1.getPositiveTeams()).containsExactly("CURRENT", "CANARY");
    TrainingExample e2 = out.stream().filter(r -> r.key().equals("q2")).findFirst().orElseThrow().value();
    assertThat(e2.getCanaryVersion()).isNull();
    assertThat(e2.getPositiveTeams()).isEmpty();
  }

  @Test
  void aQuietPartitionDecidesItsSessionsByIdleWallClockTime() {
    show(impression("q", T0, "a#0", "b#0"));
    click("q", "b#0", 2, 8_000, T0.plusSeconds(10));
    driver.advanceWallClockTime(WINDOW);
    assertThat(examples.isEmpty()).as("stream time + idle has not passed window + grace").isTrue();
    driver.advanceWallClockTime(GRACE.plusSeconds(20));
    TrainingExample e = examplesFor("q").get(0).value();
    assertThat(e.getPositives()).containsExactly("b#0");
    assertThat(e.getNegatives()).extracting(Negative::getPassageId).containsExactly("a#0");
  }

  @Test
  void aShortDwellIsNeitherPositiveNorNegativeAndASearchWithoutPositivesEmitsNothing() {
    show(impression("q", T0, "a#0", "b#0", "c#0"));
    click("q", "a#0", 1, 1_000, T0.plusSeconds(5)); // a bounce
    click("q", "c#0", 3, 9_000, T0.plusSeconds(30));
    show(impression("none", T0, "a#0", "b#0"));
    click("none", "b#0", 2, 2_000, T0.plusSeconds(5));
    advanceTo(T0.plus(WINDOW).plus(GRACE));
    List<TestRecord<String, TrainingExample>> all = examples.readRecordsToList();
    assertThat(all).extracting(TestRecord::key).containsExactly("q");
    TrainingExample e = all.get(0).value();
    assertThat(e.getPositives()).containsExactly("c#0");
    assertThat(e.getNegatives()).extracting(Negative::getPassageId).containsExactly("b#0"); // a#0 was clicked
    assertThat(counter("d2search.feedback.clicks.short-dwell")).isEqualTo(2);
    assertThat(counter("d2search.feedback.unclicked")).isEqualTo(1);
  }

  @Test
  void withEmitUnclickedASearchWithoutClicksListsEveryResultAsANegative() {
    driver.close();
    start(CONFIG.withEmitUnclicked(true));
    show(impression("q", T0, "a#0", "b#0"));
    advanceTo(T0.plus(WINDOW).plus(GRACE));
    TrainingExample e = examplesFor("q").get(0).value();
    assertThat(e.getPositives()).isEmpty();
    assertThat(e.getNegatives()).extracting(Negative::getPassageId, Negative::getRank).containsExactly(
        org.assertj.core.groups.Tuple.tuple("a#0", 1), org.assertj.core.groups.Tuple.tuple("b#0", 2));
  }

  @Test
  void aClickBeforeItsImpressionWaitsForIt() {
    click("q", "b#0", 2, 7_000, T0.plusSeconds(2));
    show(impression("q", T0, "a#0", "b#0")); // out of order: the search record arrives after the click
    advanceTo(T0.plus(WINDOW).plus(GRACE).plusSeconds(2));
    TrainingExample e = examplesFor("q").get(0).value();
    assertThat(e.getPositives()).containsExactly("b#0");
    assertThat(e.getNegatives()).extracting(Negative::getPassageId).containsExactly("a#0");
    assertThat(deadLetters.isEmpty()).isTrue();
  }

  @Test
  void aClickWhoseQueryIdNeverHasAnImpressionIsDeadLetteredAfterTheGrace() {
    click("ghost", "a#0", 1, 7_000, T0);
    advanceTo(T0.plus(GRACE).minusSeconds(11));
    assertThat(deadLetters.isEmpty()).isTrue();
    advanceTo(T0.plus(GRACE).plusSeconds(11));
    TestRecord<byte[], byte[]> letter = deadLetters.readRecord();
    assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo("ghost");
    assertThat(Topics.clickSerde().decode(letter.value()).getPassageId()).isEqualTo("a#0");
    assertThat(header(letter, Topics.HEADER_STAGE)).isEqualTo("feedback.unknown-query");
    assertThat(header(letter, Topics.HEADER_ERROR)).contains("no impression for query id ghost");
    assertThat(header(letter, Topics.HEADER_SOURCE_TOPIC)).isEqualTo(Topics.CLICKS);
    assertThat(deadLettered("unknown-query")).isEqualTo(1);
    assertThat(examples.isEmpty()).isTrue();
  }

  @Test
  void aClickOnAPassageNotShownIsDeadLettered() {
    show(impression("q", T0, "a#0", "b#0"));
    click("q", "zzz#4", 1, 7_000, T0.plusSeconds(3));
    TestRecord<byte[], byte[]> letter = deadLetters.readRecord();
    assertThat(header(letter, Topics.HEADER_STAGE)).isEqualTo("feedback.not-shown");
    assertThat(header(letter, Topics.HEADER_ERROR)).contains("zzz#4 was not shown for query q");
    advanceTo(T0.plus(WINDOW).plus(GRACE));
    assertThat(examplesFor("q")).isEmpty();
    assertThat(counter("d2search.feedback.unclicked")).isEqualTo(1);
  }

  @Test
  void clicksAfterTheWindowOrAfterTheDecisionAreLate() {
    show(impression("q", T0, "a#0", "b#0"));
    click("q", "a#0", 1, 7_000, T0.plus(WINDOW).plusSeconds(1)); // outside the window, session still open
    assertThat(header(deadLetters.readRecord(), Topics.HEADER_STAGE)).isEqualTo("feedback.late");
    advanceTo(T0.plus(WINDOW).plus(GRACE)); // decided: no positive
    click("q", "b#0", 2, 7_000, T0.plus(WINDOW).plus(GRACE).plusSeconds(1)); // after the decision
    TestRecord<byte[], byte[]> letter = deadLetters.readRecord();
    assertThat(header(letter, Topics.HEADER_STAGE)).isEqualTo("feedback.late");
    assertThat(header(letter, Topics.HEADER_ERROR)).contains("after its feedback window closed");
    assertThat(header(letter, Topics.HEADER_SOURCE_OFFSET)).isNotEqualTo("-1");
    assertThat(deadLettered("late")).isEqualTo(2);
    // After grace more, the session is forgotten: a click now is an unknown query id.
    advanceTo(T0.plus(WINDOW).plus(GRACE).plus(GRACE).plusSeconds(20));
    click("q", "b#0", 2, 7_000, T0.plus(WINDOW).plus(GRACE).plus(GRACE).plusSeconds(21));
    advanceTo(T0.plus(WINDOW).plus(GRACE.multipliedBy(3)).plusSeconds(40));
    assertThat(header(deadLetters.readRecord(), Topics.HEADER_STAGE)).isEqualTo("feedback.unknown-query");
  }

  @Test
  void duplicateClicksMergeWithTheLongestDwellAndTheImpressionsRankWins() {
    show(impression("q", T0, "a#0", "b#0", "c#0"));
    click("q", "c#0", 3, 1_000, T0.plusSeconds(3));
    click("q", "c#0", 3, 20_000, T0.plusSeconds(9)); // the same passage again: now a long read
    click("q", "b#0", 99, 6_000, T0.plusSeconds(12)); // the client says rank 99; it was shown at 2
    advanceTo(T0.plus(WINDOW).plus(GRACE));
    TrainingExample e = examplesFor("q").get(0).value();
    assertThat(e.getPositives()).containsExactly("b#0", "c#0");
    assertThat(e.getPositiveRanks()).containsExactly(2, 3);
    assertThat(e.getNegatives()).extracting(Negative::getPassageId).containsExactly("a#0");
    assertThat(counter("d2search.feedback.clicks.duplicate")).isEqualTo(1);
    assertThat(counter("d2search.feedback.clicks.rank-mismatch")).isEqualTo(1);
  }

  @Test
  void aReplayedImpressionIsDroppedAndUndecodableOrMiskeyedRecordsAreDeadLettered() {
    show(impression("q", T0, "a#0", "b#0"));
    show(impression("q", T0.plusSeconds(1), "b#0", "a#0")); // the same query id again
    assertThat(counter("d2search.feedback.impressions.duplicate")).isEqualTo(1);
    clicks.pipeInput(new TestRecord<>(bytes("q"), new byte[] {1, 2, 3}, T0.plusSeconds(2)));
    clicks.pipeInput(new TestRecord<>((byte[]) null, Topics.clickSerde().encode(Click.newBuilder().setQueryId("q")
        .setPassageId("a#0").setRank(1).setDwellMs(0).setTs(T0).build()), T0.plusSeconds(3)));
    clicks.pipeInput(new TestRecord<>(bytes("other"), Topics.clickSerde().encode(Click.newBuilder().setQueryId("q")
        .setPassageId("a#0").setRank(1).setDwellMs(0).setTs(T0).build()), T0.plusSeconds(4)));
    impressions.pipeInput(new TestRecord<>(new byte[] {(byte) 0xff}, new byte[0], T0.plusSeconds(5)));
    List<String> stages = deadLetters.readRecordsToList().stream().map(r -> header(r, Topics.HEADER_STAGE)).toList();
    assertThat(stages).containsExactly("feedback.decode", "feedback.key", "feedback.key", "feedback.key");
    click("q", "b#0", 2, 6_000, T0.plusSeconds(6));
    advanceTo(T0.plus(WINDOW).plus(GRACE));
    assertThat(examplesFor("q").get(0).value().getPositiveRanks()).as("the first impression's order").containsExactly(2);
  }

  /**
   * Random searches and clicks, in random arrival order within the grace: every click is either in exactly one
   * example or dead-lettered, never both, never lost; each example matches an oracle computed from the clicks.
   */
  @Test
  void everyClickEndsInExactlyOnePlaceWhateverTheArrivalOrder(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int queries = Randomized.atLeast(60);
    record Event(Instant at, boolean isClick, Impression impression, Click click) {}
    List<Event> events = new ArrayList<>();
    Map<String, Impression> byQuery = new HashMap<>();
    int sent = 0;
    for (int q = 0; q < queries; q++) {
      Instant served = T0.plusSeconds(q * 7L);
      String[] shown = new String[1 + random.nextInt(8)];
      for (int i = 0; i < shown.length; i++) {
        shown[i] = "d" + random.nextInt(50) + "#" + i;
      }
      shown = new java.util.LinkedHashSet<>(List.of(shown)).toArray(String[]::new);
      Impression imp = impression("q" + q, served, shown);
      byQuery.put("q" + q, imp);
      events.add(new Event(served, false, imp, null));
      for (int c = 0; c < random.nextInt(4); c++) {
        int at = random.nextInt(shown.length);
        boolean notShown = random.nextInt(10) == 0;
        Click click = Click.newBuilder().setQueryId("q" + q).setPassageId(notShown ? "nope#0" : shown[at])
            .setRank(at + 1).setDwellMs(random.nextInt(4) == 0 ? 0 : random.nextInt(20_000))
            .setTs(served.plusSeconds(random.nextInt(60))).build();
        events.add(new Event(click.getTs(), true, null, click));
        sent++;
      }
    }
    // Arrival order: by time, each event moved by up to a minute (less than the grace).
    Map<Event, Long> arrival = new HashMap<>();
    events.forEach(e -> arrival.put(e, e.at().toEpochMilli() + random.nextInt(60_000)));
    events.sort(java.util.Comparator.comparingLong(arrival::get));
    for (Event e : events) {
      if (e.isClick()) {
        clicks.pipeInput(new TestRecord<>(bytes(e.click().getQueryId()), Topics.clickSerde().encode(e.click()),
            Instant.ofEpochMilli(arrival.get(e))));
      } else {
        impressions.pipeInput(new TestRecord<>(bytes(e.impression().getQueryId()),
            Topics.impressionSerde().encode(e.impression()), Instant.ofEpochMilli(arrival.get(e))));
      }
    }
    advanceTo(T0.plusSeconds(queries * 7L).plus(WINDOW).plus(GRACE).plus(GRACE).plusSeconds(120));

    List<TestRecord<byte[], byte[]>> letters = deadLetters.readRecordsToList();
    assertThat(letters).allSatisfy(l -> assertThat(header(l, Topics.HEADER_STAGE)).isEqualTo("feedback.not-shown"));
    Map<String, Set<String>> clickedByQuery = new HashMap<>();
    int distinct = 0;
    int duplicates = 0;
    for (Event e : events) {
      if (e.isClick() && !e.click().getPassageId().equals("nope#0")) {
        if (clickedByQuery.computeIfAbsent(e.click().getQueryId(), k -> new HashSet<>()).add(
            e.click().getPassageId())) {
          distinct++;
        } else {
          duplicates++;
        }
      }
    }
    // A repeated click is merged into the first (counted as a duplicate), also when both are on a passage that was
    // not shown and arrive before the impression: the first is dead-lettered, the repeat is the duplicate count's.
    double merged = counter("d2search.feedback.clicks.duplicate");
    assertThat(merged).as("duplicates of shown passages are merged").isGreaterThanOrEqualTo(duplicates);
    assertThat(letters.size() + distinct + (long) merged).as("every click accounted for").isEqualTo(sent);
    for (TestRecord<String, TrainingExample> r : examples.readRecordsToList()) {
      if (r.key().startsWith("clock-")) {
        continue;
      }
      TrainingExample e = r.value();
      List<String> shown = byQuery.get(r.key()).getResults().stream().map(RankedPassage::getPassageId).toList();
      Set<String> clicked = clickedByQuery.getOrDefault(r.key(), Set.of());
      assertThat(e.getPositives()).isNotEmpty().allMatch(clicked::contains);
      int lowest = e.getPositiveRanks().stream().mapToInt(Integer::intValue).max().orElseThrow();
      for (int i = 0; i < e.getPositives().size(); i++) {
        assertThat(shown.get(e.getPositiveRanks().get(i) - 1)).isEqualTo(e.getPositives().get(i));
      }
      List<String> expectedNegatives = new ArrayList<>();
      for (int i = 0; i < lowest - 1; i++) {
        if (!clicked.contains(shown.get(i))) {
          expectedNegatives.add(shown.get(i));
        }
      }
      assertThat(e.getNegatives()).extracting(Negative::getPassageId).containsExactlyElementsOf(expectedNegatives);
    }
  }
}
