package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.distill.JudgedQuery;
import io.d2search.distill.QuerySplit;
import io.d2search.data.BeirDataset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
    List<JudgedQuery> judged = DistillCommand.judgedQueries(data);
    List<String> expected = QuerySplit.of(judged, fraction, seed, kind).heldOut().stream().map(JudgedQuery::id)
        .toList();
    Map<String, Object> training = training("scifact", "train", judged.size(), expected.size(), kind, seed);

    HeldOutSlice slice = HeldOutSlice.of("7", training, "scifact", "train", data).orElseThrow();

    assertThat(slice.queryIds()).as("test seed %d", testSeed).isEqualTo(expected);
    assertThat(slice.version()).isEqualTo("7");
    assertThat(slice.kind()).isEqualTo(kind.name().toLowerCase(Locale.ROOT));
    assertThat(data.restrictedTo(slice.queryIds()).queries()).hasSize(expected.size());
  }

  @Test
  void bundlesTrainedOnOtherDataHaveNoSlice() {
    BeirDataset data = judged(new Random(1), 50);
    Map<String, Object> training = training("scifact", "train", 50, 5, QuerySplit.Kind.RANDOM, 0);
    assertThat(HeldOutSlice.of("0", null, "scifact", "train", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", training, "nfcorpus", "train", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", training, "scifact", "dev", data)).isEmpty();
    assertThat(HeldOutSlice.of("3", Map.of("data", Map.of("source", "clicks")), "scifact", "train", data)).isEmpty();
  }

  @Test
  void refusesASliceThatCannotBeDrawnAgain() {
    BeirDataset data = judged(new Random(2), 50);
    assertThatThrownBy(() -> HeldOutSlice.of("3", training("scifact", "train", 60, 5, QuerySplit.Kind.RANDOM, 0),
        "scifact", "train", data)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trained on 60 judged queries").hasMessageContaining("now has 50");
    // More unseen-kind queries recorded than can qualify: the judgements are not the ones trained on.
    assertThatThrownBy(() -> HeldOutSlice.of("3", training("scifact", "train", 50, 49, QuerySplit.Kind.UNSEEN, 0),
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

  /** The manifest fields distill writes that the slice depends on. */
  private static Map<String, Object> training(String dataset, String split, int queries, int heldOut,
      QuerySplit.Kind kind, long seed) {
    return Map.of("data", Map.of("source", "beir", "dataset", dataset, "split", split, "queries", queries,
        "heldOutQueries", heldOut, "heldOutKind", kind.name().toLowerCase(Locale.ROOT)), "trainer", Map.of("seed", seed));
  }
}
