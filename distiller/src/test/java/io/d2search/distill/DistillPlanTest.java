package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.TrainingWindow;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A plan refuses what {@code distill} refused before reading any data, parses the loss as the options say, and
 * names label caches and records windows as {@code distill} always has.
 */
class DistillPlanTest {
  private static final TrainerConfig TRAINER = TrainerConfig.defaults().withProgress(TrainerConfig.Progress.NONE);

  /** distill's defaults. */
  private static DistillPlan plan(DistillPlan.Symmetric symmetric, IemHead.Input input, IemInit init,
      boolean judgedTraining, PseudoQueries pseudo, Distillation.BackboneTuning tuning) {
    return new DistillPlan(Path.of("data/scifact"), "train", Path.of("bundles/7"), new DistillPlan.Mining(15, 12, 100),
        new DistillPlan.HeldOut(0.1, QuerySplit.Kind.UNSEEN), pseudo, judgedTraining, symmetric, input, init,
        LossConfig.d2llm(), TRAINER, tuning, true);
  }

  private static DistillPlan defaults() {
    return plan(null, IemHead.Input.INTERACTION_ONLY, null, true, PseudoQueries.none(), null);
  }

  @Test
  void theVersionIsTheDirectorysNameAndAFreshIemStartsAsItsInputPrefers() {
    DistillPlan plan = defaults();
    assertThat(plan.version()).isEqualTo("7");
    assertThat(plan.iemInit()).isEqualTo(IemInit.defaultFor(IemHead.Input.INTERACTION_ONLY)).isEqualTo(IemInit.COSINE);
    assertThat(plan(null, IemHead.Input.CONCAT, null, true, PseudoQueries.none(), null).iemInit())
        .isEqualTo(IemInit.RANDOM);
  }

  @Test
  void refusesWhatDistillRefusedBeforeReadingData() {
    assertThatThrownBy(() -> new DistillPlan.Mining(15, 12, 8)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--negative-depth 8 is less than --dense-negatives 12");
    assertThatThrownBy(() -> plan(null, IemHead.Input.CONCAT, IemInit.COSINE, true, PseudoQueries.none(), null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("--iem-init cosine needs --iem-input");
    assertThatThrownBy(() -> plan(new DistillPlan.Symmetric(Path.of("shared"), 4), IemHead.Input.INTERACTION_ONLY,
        null, true, PseudoQueries.none(), new Distillation.BackboneTuning(1, 12)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot follow --tune-layers");
    assertThatThrownBy(() -> plan(null, IemHead.Input.INTERACTION_ONLY, null, false, PseudoQueries.none(), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("nothing to train on: --no-judged-training needs --pseudo-queries");
    assertThatThrownBy(() -> new DistillPlan.HeldOut(1, QuerySplit.Kind.RANDOM))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("held-out fraction");
    assertThatThrownBy(() -> new DistillPlan(Path.of("data"), "train", Path.of("/"), new DistillPlan.Mining(3, 2, 2),
        new DistillPlan.HeldOut(0.1, QuerySplit.Kind.RANDOM), PseudoQueries.none(), true, null,
        IemHead.Input.INTERACTION, null, LossConfig.d2llm(), TRAINER, null, true))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--out");
    // Pseudo-queries alone are a plan.
    assertThat(plan(null, IemHead.Input.INTERACTION_ONLY, null, false, new PseudoQueries(24,
        PseudoQueries.Kind.SENTENCE, PseudoQueries.Positive.TEACHER), null).judgedTraining()).isFalse();
  }

  @Test
  void parsesTheLossAndItsWeights() {
    assertThat(LossConfig.parse("d2llm", null)).isEqualTo(LossConfig.d2llm());
    assertThat(LossConfig.parse("HYBRID", null)).isEqualTo(LossConfig.hybrid());
    assertThat(LossConfig.parse("d2llm", "0, 0,1,0.01,0.001")).isEqualTo(LossConfig.d2llm().withInBatchWeight(0)
        .withWeights(0, 1, 0.01, 0.001));
    assertThatThrownBy(() -> LossConfig.parse("listwise", null)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--loss must be d2llm or hybrid: listwise");
    assertThatThrownBy(() -> LossConfig.parse("d2llm", "1,1,1")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--loss-weights needs 5 numbers: 1,1,1");
    assertThatThrownBy(() -> LossConfig.parse("d2llm", "1,1,1,x,1")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--loss-weights needs 5 numbers: 1,1,1,x,1");
    assertThatThrownBy(() -> LossConfig.parse("d2llm", "1,1,1,-1,1")).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Label caches on disk are found by name: a set-up must keep the name {@code distill} gave it (values computed
   * independently from the formula: sha256 over NUL-joined checksum, teacher, K, split of K, HNSW M and beam width,
   * corpus texts).
   */
  @Test
  void namesALabellingSetUpAsDistillAlwaysHas() {
    List<String> texts = List.of("first doc", "second doc é");
    String checksum = "a".repeat(64);
    assertThat(DistillRun.labelSetup("4", checksum, "ensemble:x", texts, new DistillPlan.Mining(15, 12, 100), 16, 100))
        .isEqualTo("parent-4-1b49fc7a75468f84");
    // The top ones: the depth stays out of the name, so lists labelled before it existed stay valid.
    assertThat(DistillRun.labelSetup("4", checksum, "ensemble:x", texts, new DistillPlan.Mining(15, 12, 12), 16, 100))
        .isEqualTo("parent-4-1d719fb8928bbfe2");
  }

  @Test
  void recordsTheWindowDistillRecorded() {
    DistillPlan plan = plan(null, IemHead.Input.INTERACTION_ONLY, null, false, new PseudoQueries(24,
        PseudoQueries.Kind.SENTENCE, PseudoQueries.Positive.TEACHER), null);
    TrainingWindow window = DistillRun.window(plan, "0", 48, 5, 24);
    assertThat(window).isEqualTo(new TrainingWindow("beir", "scifact", "train", 48, false, 5, "unseen",
        new TrainingWindow.PseudoQueries(24, "last sentence of 8-40 words",
            "the teacher's best of K + 1 mined, its document left out"),
        new TrainingWindow.Negatives(15, 12, 100, "bundle 0 HNSW", "bm25")));
    assertThat(DistillRun.window(defaults(), "3", 809, 81, 0).pseudoQueries())
        .isEqualTo(new TrainingWindow.PseudoQueries(0, "document title", "its document"));
  }
}
