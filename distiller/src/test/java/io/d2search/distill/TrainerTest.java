package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.training.tracker.Tracker;
import io.d2search.bundle.Tensor;
import io.d2search.rank.IemHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Training on a synthetic problem whose teacher is a known function: every text is a bag of noisy tokens around a
 * latent unit vector; a query's candidates have latents mixed from the query's own and a random one in known
 * proportions, and the teacher scores a pair as {@code σ(8·(cos(latent_q, latent_p) − 0.5))}.
 */
class TrainerTest {
  private static final int D = 16;
  private static final int K = 3;
  private static final HeadsSpec SPEC = new HeadsSpec(D, 2, IemHead.Input.INTERACTION, 32);
  private static NDManager manager;

  @BeforeAll
  static void start() {
    manager = Djl.manager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  private static double[] unit(Random r) {
    double[] v = new double[D];
    double n = 0;
    for (int i = 0; i < D; i++) {
      v[i] = r.nextGaussian();
      n += v[i] * v[i];
    }
    for (int i = 0; i < D; i++) {
      v[i] /= Math.sqrt(n);
    }
    return v;
  }

  private static double[] mix(double[] a, double[] b, double alpha) {
    double[] v = new double[D];
    double n = 0;
    for (int i = 0; i < D; i++) {
      v[i] = alpha * a[i] + (1 - alpha) * b[i];
      n += v[i] * v[i];
    }
    for (int i = 0; i < D; i++) {
      v[i] /= Math.sqrt(n);
    }
    return v;
  }

  private static TokenSequence text(Random r, double[] latent) {
    int tokens = 3 + r.nextInt(5);
    float[] data = new float[tokens * D];
    for (int t = 0; t < tokens; t++) {
      for (int i = 0; i < D; i++) {
        data[t * D + i] = (float) (2 * latent[i] + 0.5 * r.nextGaussian());
      }
    }
    return new TokenSequence(data, tokens, D);
  }

  private static float teacher(double[] q, double[] p, int dims) {
    double dot = 0;
    double qq = 0;
    double pp = 0;
    for (int i = 0; i < dims; i++) {
      dot += q[i] * p[i];
      qq += q[i] * q[i];
      pp += p[i] * p[i];
    }
    double cos = dot / Math.sqrt(qq * pp);
    return (float) (1 / (1 + Math.exp(-8 * (cos - 0.5))));
  }

  static List<TrainingExample> examples(Random r, int n) {
    return examples(r, n, D);
  }

  /** Lists whose teacher judges the cosine of the first {@code teacherDims} latent dimensions only. */
  static List<TrainingExample> examples(Random r, int n, int teacherDims) {
    double[] alphas = {0.9, 0.6, 0.35, 0.1};
    List<TrainingExample> out = new ArrayList<>();
    for (int e = 0; e < n; e++) {
      double[] q = unit(r);
      List<TokenSequence> negatives = new ArrayList<>();
      float[] scores = new float[1 + K];
      float[][] features = new float[1 + K][];
      TokenSequence positive = null;
      for (int c = 0; c <= K; c++) {
        double[] p = mix(q, unit(r), alphas[c]);
        scores[c] = teacher(q, p, teacherDims);
        features[c] = new float[] {scores[c], 1 - scores[c]};
        if (c == 0) {
          positive = text(r, p);
        } else {
          negatives.add(text(r, p));
        }
      }
      out.add(new TrainingExample(text(r, q), positive, negatives, scores, features));
    }
    return out;
  }

  private static TrainerConfig config() {
    return TrainerConfig.defaults().withEpochs(12).withBatchSize(8).withLearningRate(3e-3)
        .withProgress(TrainerConfig.Progress.LOG).withSeed(11);
  }

  @Test
  void decreasesTheLossOnASyntheticTeacher() {
    Random r = new Random(2024);
    List<TrainingExample> train = examples(r, 48);
    List<TrainingExample> heldOut = examples(r, 16);
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 5)) {
      long start = System.nanoTime();
      TrainingReport report = new Trainer(config(), LossConfig.d2llm()).fit(heads, train, heldOut);
      System.out.printf("TrainerTest: %d epochs, %d steps in %d ms; held-out %.4f -> %.4f (epoch %d)%n",
          report.epochs().size(), report.steps(), (System.nanoTime() - start) / 1_000_000,
          report.initialHeldOutLoss(), report.bestHeldOutLoss(), report.bestEpoch());
      report.epochs().forEach(e -> System.out.println("  " + e));
      assertThat(report.epochs()).isNotEmpty();
      assertThat(report.bestHeldOutLoss()).isLessThan(0.75 * report.initialHeldOutLoss());
      assertThat(report.epochs().get(report.epochs().size() - 1).trainLoss())
          .isLessThan(report.epochs().get(0).trainLoss());
      assertThat(report.epochs().get(0).heldOutTerms()).containsKeys("inBatch", "ci", "ri", "bpr", "fi");
      // the heads hold the best epoch: evaluating them again gives its held-out loss
      Trainer.Evaluation again = new Trainer(config(), LossConfig.d2llm()).evaluate(heads, heldOut);
      assertThat(again.loss()).isCloseTo(report.bestHeldOutLoss(), within(1e-5));
      // rank agreement with the teacher on held-out lists went up: RI = β·(1 − Pearson)
      assertThat(again.terms().get("ri")).isLessThan(report.epochs().get(0).heldOutTerms().get("ri") + 1e-9)
          .isLessThan(0.5);
      // the symmetric branch was not the one trained and must not have moved
      Map<String, Tensor> after = heads.toTensors();
      Map<String, Tensor> before = StudentHeads.initialTensors(SPEC, 5);
      assertThat(after.get("iem.proj0.weight")).isEqualTo(before.get("iem.proj0.weight"));
      assertThat(after.get("iem.proj1.weight")).isNotEqualTo(before.get("iem.proj1.weight"));
      assertThat(after.get(PmaBlock.FC_O_WEIGHT)).isNotEqualTo(before.get(PmaBlock.FC_O_WEIGHT));
    }
  }

  @Test
  void aFrozenPmaPooledOnceTrainsTheIemAsThePmaForwardWouldScoreIt() {
    Random r = new Random(31);
    List<TrainingExample> train = examples(r, 32);
    List<TrainingExample> heldOut = examples(r, 16);
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 9)) {
      Map<String, Tensor> before = heads.toTensors();
      Trainer trainer = new Trainer(config().withEpochs(3).withTrainPma(false)
          .withProgress(TrainerConfig.Progress.NONE), LossConfig.d2llm());
      double untrained = trainer.evaluate(heads, heldOut).loss();
      TrainingReport report = trainer.fit(heads, train, heldOut);
      // the report's losses came from vectors pooled once; the public evaluate pools every batch again
      assertThat(report.initialHeldOutLoss()).isCloseTo(untrained, within(1e-5));
      assertThat(trainer.evaluate(heads, heldOut).loss()).isCloseTo(report.bestHeldOutLoss(), within(1e-5));
      assertThat(report.bestHeldOutLoss()).isLessThan(untrained);
      Map<String, Tensor> after = heads.toTensors();
      PmaBlock.NAMES.forEach(name -> assertThat(after.get(name)).as(name).isEqualTo(before.get(name)));
      assertThat(after.get("iem.proj1.weight")).isNotEqualTo(before.get("iem.proj1.weight"));
    }
  }

  @Test
  void aFrozenIemTrainsThePmaThroughTheCosineItStartsAs() {
    // A teacher that reads half the dimensions: the PMA's projections can learn to weight them, the cosine cannot.
    Random r = new Random(41);
    List<TrainingExample> train = examples(r, 64, D / 2);
    List<TrainingExample> heldOut = examples(r, 16, D / 2);
    Map<String, Tensor> before = StudentHeads.initialTensors(SPEC, 3, IemInit.COSINE);
    try (NDManager m = manager.newSubManager();
        StudentHeads heads = StudentHeads.fromTensors(m, before, SPEC.heads(), SPEC.iemInput())) {
      TrainingReport report = new Trainer(config().withEpochs(6).withTrainIem(false)
          .withProgress(TrainerConfig.Progress.NONE), LossConfig.d2llm()).fit(heads, train, heldOut);
      assertThat(report.bestHeldOutLoss()).isLessThan(report.initialHeldOutLoss());
      Map<String, Tensor> after = heads.toTensors();
      before.keySet().stream().filter(name -> name.startsWith("iem."))
          .forEach(name -> assertThat(after.get(name)).as(name).isEqualTo(before.get(name)));
      assertThat(after.get(PmaBlock.FC_V_WEIGHT)).isNotEqualTo(before.get(PmaBlock.FC_V_WEIGHT));
    }
    assertThatThrownBy(() -> config().withTrainPma(false).withTrainIem(false).withBackboneLearningRate(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nothing to train");
    // Backbone layers alone may train; heads that carry none then have nothing to train.
    try (NDManager m = manager.newSubManager();
        StudentHeads heads = StudentHeads.fromTensors(m, before, SPEC.heads(), SPEC.iemInput())) {
      Trainer layersOnly = new Trainer(config().withTrainPma(false).withTrainIem(false)
          .withProgress(TrainerConfig.Progress.NONE), LossConfig.d2llm());
      assertThatThrownBy(() -> layersOnly.fit(heads, train, heldOut)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("no backbone layers");
    }
  }

  @Test
  void hybridObjectiveTrainsToo() {
    Random r = new Random(99);
    List<TrainingExample> train = examples(r, 32);
    List<TrainingExample> heldOut = examples(r, 16);
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 6)) {
      TrainingReport report = new Trainer(config().withEpochs(6).withProgress(TrainerConfig.Progress.NONE),
          LossConfig.hybrid()).fit(heads, train, heldOut);
      assertThat(report.bestHeldOutLoss()).isLessThan(report.initialHeldOutLoss());
      assertThat(report.epochs().get(0).heldOutTerms()).containsOnlyKeys("inBatch", "hybrid");
    }
  }

  @Test
  void aSelectionDecidesWhichEpochIsKept() {
    Random r = new Random(17);
    List<TrainingExample> train = examples(r, 32);
    List<TrainingExample> heldOut = examples(r, 16);
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 8)) {
      Map<String, Tensor> before = heads.toTensors();
      // A selection that prefers the untouched heads: the loss falls, yet they are what comes back.
      List<Double> losses = new java.util.ArrayList<>();
      Trainer.Selection untouched = (h, loss) -> {
        losses.add(loss);
        return h.toTensors().equals(before) ? 0 : 1;
      };
      TrainingReport report = new Trainer(config().withEpochs(4).withPatience(2)
          .withProgress(TrainerConfig.Progress.NONE), LossConfig.d2llm()).fit(heads, train, heldOut, untouched);
      assertThat(report.bestEpoch()).isZero();
      assertThat(report.epochs()).hasSize(2);
      assertThat(report.stoppedEarly()).isTrue();
      assertThat(losses).hasSize(3).first().isEqualTo(report.initialHeldOutLoss());
      assertThat(losses.get(2)).isLessThan(losses.get(0));
      assertThat(heads.toTensors()).isEqualTo(before);
    }
  }

  @Test
  void stopsEarlyAndRestoresTheBestEpochAndIsReproducible() {
    Random r = new Random(7);
    List<TrainingExample> train = examples(r, 24);
    List<TrainingExample> heldOut = examples(r, 8);
    // a far too high learning rate and no clipping: the held-out loss soon stops improving
    TrainerConfig wild = config().withLearningRate(0.3).withClipNorm(Double.POSITIVE_INFINITY).withPatience(1)
        .withEpochs(10).withProgress(TrainerConfig.Progress.NONE);
    TrainingReport first;
    Map<String, Tensor> firstTensors;
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 1)) {
      first = new Trainer(wild, LossConfig.d2llm()).fit(heads, train, heldOut);
      firstTensors = heads.toTensors();
      assertThat(first.stoppedEarly()).isTrue();
      assertThat(first.epochs().size()).isLessThan(10);
      double held = new Trainer(wild, LossConfig.d2llm()).evaluate(heads, heldOut).loss();
      assertThat(held).isCloseTo(first.bestHeldOutLoss(), within(1e-5));
      for (TrainingReport.Epoch e : first.epochs()) {
        assertThat(first.bestHeldOutLoss()).isLessThanOrEqualTo(e.heldOutLoss());
      }
    }
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 1)) {
      TrainingReport second = new Trainer(wild, LossConfig.d2llm()).fit(heads, train, heldOut);
      assertThat(second.epochs().stream().map(TrainingReport.Epoch::trainLoss).toList())
          .isEqualTo(first.epochs().stream().map(TrainingReport.Epoch::trainLoss).toList());
      assertThat(heads.toTensors()).isEqualTo(firstTensors);
    }
  }

  /**
   * A thread collecting garbage every few milliseconds must not corrupt training (it once did: NaN gradients
   * from freed constant buffers, see {@link Scalars}).
   */
  @Test
  void trainsUnderGarbageCollectionPressure() throws InterruptedException {
    Thread collector = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        System.gc();
        try {
          Thread.sleep(3);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "gc-pressure");
    collector.setDaemon(true);
    collector.start();
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 2)) {
      Random r = new Random(5);
      TrainingReport report = new Trainer(config().withEpochs(2).withProgress(TrainerConfig.Progress.NONE),
          LossConfig.d2llm()).fit(heads, examples(r, 24), examples(r, 8));
      assertThat(report.epochs()).allSatisfy(e -> {
        assertThat(e.trainLoss()).isFinite();
        assertThat(e.gradientNorm()).isFinite();
      });
    } finally {
      collector.interrupt();
      collector.join();
    }
  }

  @Test
  void learningRateWarmsUpThenDecays() {
    Trainer trainer = new Trainer(TrainerConfig.defaults().withLearningRate(1e-3), LossConfig.d2llm());
    Tracker schedule = trainer.schedule(100); // 10 warm-up steps, then 90 decaying
    assertThat(schedule.getNewValue(1)).isCloseTo(1e-4f, within(1e-9f));
    assertThat(schedule.getNewValue(5)).isCloseTo(5e-4f, within(1e-9f));
    assertThat(schedule.getNewValue(10)).isCloseTo(1e-3f, within(1e-9f));
    assertThat(schedule.getNewValue(55)).isCloseTo(1e-3f * (1 - 45f / 91), within(1e-8f));
    assertThat(schedule.getNewValue(100)).isGreaterThan(0f).isLessThan(2e-5f);
    assertThat(Trainer.decays("iem.fc1.weight")).isTrue();
    assertThat(Trainer.decays("pma.ln0.weight")).isFalse();
    assertThat(Trainer.decays("pma.fc_q.bias")).isFalse();
    assertThat(Trainer.decays("pma.seed")).isFalse();
  }

  @Test
  void rejectsExamplesThatDoNotFit() {
    Random r = new Random(3);
    List<TrainingExample> train = new ArrayList<>(examples(r, 4));
    TrainingExample e = train.get(0);
    train.add(new TrainingExample(e.query(), e.positive(), e.negatives().subList(0, 2), new float[] {1, 0, 0}, null));
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, SPEC, 1)) {
      assertThatThrownBy(() -> new Trainer(config(), LossConfig.d2llm()).fit(heads, train, List.of()))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same number of hard negatives");
    }
    assertThatThrownBy(() -> new TrainingExample(e.query(), e.positive(), e.negatives(), new float[] {1, 0}, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new TrainingExample(e.query(), e.positive(), e.negatives(),
        new float[] {1.5f, 0, 0, 0}, null)).isInstanceOf(IllegalArgumentException.class);
  }
}
