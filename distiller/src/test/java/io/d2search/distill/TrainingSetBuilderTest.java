package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** An unjudged list becomes a judged one whose positive is the teacher's best candidate. */
class TrainingSetBuilderTest {

  @RepeatedTest(50)
  void theTeachersBestMovesToTheFrontAndTheRestKeepTheirOrder() {
    Random r = new Random();
    int n = 2 + r.nextInt(20);
    List<String> candidates = new ArrayList<>();
    double[] scores = new double[n];
    double[][] features = r.nextBoolean() ? new double[n][] : null;
    for (int i = 0; i < n; i++) {
      candidates.add("d" + i);
      scores[i] = r.nextInt(5) / 4.0; // ties are common
      if (features != null) {
        features[i] = new double[] {i, -i};
      }
    }
    LabelStore.Entry judged = TrainingSetBuilder.teacherBest(new LabelStore.Entry("q", List.of(), candidates, scores,
        features));

    double max = java.util.Arrays.stream(scores).max().orElseThrow();
    int best = 0;
    while (scores[best] != max) {
      best++;
    }
    List<String> rest = new ArrayList<>(candidates);
    rest.remove(best);
    assertThat(judged.text()).isEqualTo("q");
    assertThat(judged.positives()).as("the first of the highest scored").containsExactly("d" + best);
    assertThat(judged.negatives()).isEqualTo(rest);
    for (int i = 0; i < n; i++) {
      String id = i == 0 ? judged.positives().getFirst() : judged.negatives().get(i - 1);
      int from = Integer.parseInt(id.substring(1));
      assertThat(judged.scores()[i]).as("score follows its candidate").isEqualTo(scores[from]);
      if (features != null) {
        assertThat(judged.features()[i]).as("features follow their candidate").containsExactly(from, -from);
      }
    }
  }

  @Test
  void refusesAJudgedListOrOneWithoutAChoice() {
    assertThatThrownBy(() -> TrainingSetBuilder.teacherBest(new LabelStore.Entry("q", List.of("p"), List.of("a", "b"),
        new double[] {1, 0, 0}, null))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TrainingSetBuilder.teacherBest(new LabelStore.Entry("q", List.of(), List.of("a"),
        new double[] {1}, null))).isInstanceOf(IllegalArgumentException.class);
  }
}
