package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** Random query sets: an UNSEEN split never shows a held-out positive to training; both keep every query once. */
class QuerySplitTest {

  private static List<JudgedQuery> queries(Random r, int n, int docs) {
    List<JudgedQuery> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Set<String> positives = new HashSet<>();
      int k = 1 + r.nextInt(3);
      while (positives.size() < k) {
        positives.add("d" + r.nextInt(docs));
      }
      out.add(new JudgedQuery("q" + i, "query " + i, List.copyOf(positives)));
    }
    return out;
  }

  @RepeatedTest(20)
  void anUnseenSplitHoldsOutOnlyQueriesWhosePositivesNoTrainingQueryHas() {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    List<JudgedQuery> all = queries(r, 50 + r.nextInt(300), 100 + r.nextInt(900));
    double fraction = r.nextDouble() * 0.5;
    QuerySplit split = QuerySplit.of(all, fraction, seed, QuerySplit.Kind.UNSEEN);
    Set<String> trainPositives = new HashSet<>();
    split.train().forEach(q -> trainPositives.addAll(q.positives()));
    assertThat(split.heldOutPositives()).as("seed %d", seed).doesNotContainAnyElementsOf(trainPositives);
    assertThat(split.heldOut().size()).isLessThanOrEqualTo((int) Math.round(fraction * all.size()));
    assertThat(new ArrayList<>(split.train()) {{ addAll(split.heldOut()); }}).containsExactlyInAnyOrderElementsOf(all);

    QuerySplit random = QuerySplit.of(all, fraction, seed, QuerySplit.Kind.RANDOM);
    assertThat(random.heldOut()).hasSize((int) Math.round(fraction * all.size()));
    assertThat(new ArrayList<>(random.train()) {{ addAll(random.heldOut()); }}).containsExactlyInAnyOrderElementsOf(all);
    assertThat(QuerySplit.of(all, fraction, seed, QuerySplit.Kind.UNSEEN)).isEqualTo(split);
  }

  @Test
  void queriesSharingAPositiveStayInTraining() {
    List<JudgedQuery> all = List.of(new JudgedQuery("a", "a", List.of("d1")), new JudgedQuery("b", "b", List.of("d1")),
        new JudgedQuery("c", "c", List.of("d2", "d1")), new JudgedQuery("e", "e", List.of("d3")));
    QuerySplit split = QuerySplit.of(all, 0.5, 1, QuerySplit.Kind.UNSEEN);
    assertThat(split.heldOut()).extracting(JudgedQuery::id).containsExactly("e");
    assertThatThrownBy(() -> QuerySplit.of(all, 1.0, 1, QuerySplit.Kind.RANDOM))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
