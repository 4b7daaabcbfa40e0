package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.TrainingWindow;
import io.d2search.distill.JudgedQuery;
import io.d2search.distill.QuerySplit;
import io.d2search.data.BeirDataset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The held-out slice drawn again from a manifest is the one distill drew, for random splits, seeds and kinds. */
class HeldOutSliceTest {

  @RepeatedTest(20)
  void drawsAgainTheSliceDistillHeldOut() {
    Random random = new Random();
    long testSeed = random.nextLong();
    random.setSeed(testSeed);
    BeirDataset data = judged(random, 20 + random.nextInt(200));
    double fraction = random.nextDouble() * 0.6;
    long seed = random.nextLong();
    QuerySplit.Kind kind = QuerySplit.Kind.values()[random.nextInt(QuerySplit.Kind.values().length)];
    // What distill does with its --held-out, --seed and --held-out-kind, and what it records.
    List<JudgedQuery> judged = JudgedQuery.fromQrels(data);
    List<String> expected = QuerySplit.of(judged, fraction, seed, kind).heldOut().stream().map(JudgedQuery::id)
        .toList();
    TrainingWindow window = window("scifact", "train", judged.size(), expected.size(), kind);

    HeldOutSlice slice = HeldOutSlice.of("7", window, OptionalLong.of(seed), "scifact", "train", data).orElseThrow();

    assertThat(slice.queryIds()).as("test seed %d", testSeed).isEqualTo(expected);
    assertThat(slice.version()).isEqualTo("7");
    assertThat(slice.kind()).isEqualTo(kind.name().toLowerCase(Locale.ROOT));
    assertThat(data.restrictedTo(slice.queryIds()).queries()).hasSize(expected.size());
    // The same from the manifest's raw training section, as eval reads it.
    Map<String, Object> training = Map.of("data", window.toMap(), "trainer", Map.of("seed", seed));
    // A manifest's raw training section reads as the typed window and seed it was written from.
    assertThat(HeldOutSlice.of("7", TrainingWindow.in(training).orElse(null), TrainingWindow.seedIn(training),
        "scifact", "train", data)).hasValue(slice);
  }

  @Test
  void bundlesTrainedOnOtherDataHaveNoSlice() {
    BeirDataset data = judged(new Random(1), 50);
    TrainingWindow window = window("scifact", "train", 50, 5, QuerySplit.Kind.RANDOM);
    OptionalLong seed = OptionalLong.of(0);
    assertThat(HeldOutSlice.of("0", null, OptionalLong.empty(), "scifact", "train", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", window, seed, "nfcorpus", "train", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", window, seed, "scifact", "dev", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", TrainingWindow.fromMap(Map.of("source", "clicks")), seed, "scifact", "train",
        data)).isEmpty();
    assertThat(HeldOutSlice.of("3", window, OptionalLong.empty(), "scifact", "train", data)).as("no seed recorded")
        .isEmpty();
    Map<String, Object> noTraining = null;
    assertThat(HeldOutSlice.of("0", TrainingWindow.in(noTraining).orElse(null), TrainingWindow.seedIn(noTraining),
        "scifact", "train", data)).as("version 0's raw section").isEmpty();
    assertThat(HeldOutSlice.trainedSplit(window, "scifact")).isEqualTo("train");
    assertThat(HeldOutSlice.trainedSplit(window, "nfcorpus")).isNull();
    assertThat(HeldOutSlice.trainedSplit(TrainingWindow.in(noTraining).orElse(null), "scifact")).isNull();
  }

  @Test
  void refusesASliceThatCannotBeDrawnAgain() {
    BeirDataset data = judged(new Random(2), 50);
    OptionalLong seed = OptionalLong.of(0);
    assertThatThrownBy(() -> HeldOutSlice.of("3", window("scifact", "train", 60, 5, QuerySplit.Kind.RANDOM), seed,
        "scifact", "train", data)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trained on 60 judged queries").hasMessageContaining("now has 50");
    // More unseen-kind queries recorded than can qualify: the judgements are not the ones trained on.
    assertThatThrownBy(() -> HeldOutSlice.of("3", window("scifact", "train", 50, 49, QuerySplit.Kind.UNSEEN), seed,
        "scifact", "train", data)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("held out 49 queries");
  }

  /** {@code n} judged queries over a small pool of documents, so that some documents answer several queries. */
  private static BeirDataset judged(Random random, int n) {
    Map<String, String> queries = new LinkedHashMap<>();
    Map<String, Map<String, Integer>> qrels = new LinkedHashMap<>();
    int docs = Math.max(2, n);
    for (int i = 0; i < n; i++) {
      String id = "q" + random.nextInt(1_000_000) + "-" + i;
      Map<String, Integer> judgements = new LinkedHashMap<>();
      for (int j = 0, m = 1 + random.nextInt(3); j < m; j++) {
        judgements.put("d" + random.nextInt(docs), random.nextInt(5) == 0 ? 0 : 1 + random.nextInt(2));
      }
      if (judgements.values().stream().noneMatch(r -> r > 0)) {
        judgements.put("d" + random.nextInt(docs), 1);
      }
      queries.put(id, "text " + i);
      qrels.put(id, judgements);
    }
    return new BeirDataset(Map.of(), queries, qrels);
  }

  /** The window fields distill writes that the slice depends on (the seed is the run's, recorded beside it). */
  private static TrainingWindow window(String dataset, String split, int queries, int heldOut, QuerySplit.Kind kind) {
    return new TrainingWindow("beir", dataset, split, queries, null, heldOut, kind.name().toLowerCase(Locale.ROOT),
        null, null);
  }
}
