package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every loss against a hand computation on 2 queries × (positive + 2 hard negatives): the arithmetic is written
 * out below with {@link Math}, and the printed constant is the same number from an independent calculator.
 */
class LossesTest {
  // student logits z and teacher probabilities t, positive in column 0
  private static final double[][] Z = {{2.0, 0.5, -1.0}, {0.0, 1.0, 0.3}};
  private static final double[][] T = {{0.9, 0.2, 0.1}, {0.6, 0.7, 0.05}};
  // in-batch logits: query i against the positive of query j
  private static final double[][] IN_BATCH = {{3, 1}, {0.5, 2}};
  private static NDManager manager;

  @BeforeAll
  static void start() {
    manager = Djl.manager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  private static NDArray array(double[][] v) {
    double[] flat = new double[v.length * v[0].length];
    for (int i = 0; i < v.length; i++) {
      System.arraycopy(v[i], 0, flat, i * v[0].length, v[0].length);
    }
    return manager.create(flat, new Shape(v.length, v[0].length));
  }

  private static double softplus(double x) {
    return Math.log(1 + Math.exp(x));
  }

  @Test
  void inBatchInfoNce() {
    // query 0: −log(e³ / (e³ + e¹)); query 1: −log(e² / (e^0.5 + e²)); mean
    double q0 = -(3 - Math.log(Math.exp(3) + Math.exp(1)));
    double q1 = -(2 - Math.log(Math.exp(0.5) + Math.exp(2)));
    double expected = (q0 + q1) / 2;
    assertThat(expected).isCloseTo(0.16417064451286256, within(1e-12));
    assertThat(Losses.inBatchInfoNce(array(IN_BATCH), 1).getDouble()).isCloseTo(expected, within(1e-9));
    // τ = 0.5 doubles every logit
    double sharp = (-(6 - Math.log(Math.exp(6) + Math.exp(2))) - (4 - Math.log(Math.exp(1) + Math.exp(4)))) / 2;
    assertThat(Losses.inBatchInfoNce(array(IN_BATCH), 0.5).getDouble()).isCloseTo(sharp, within(1e-9))
        .isCloseTo(0.03336863974577575, within(1e-9));
    // an extra negative column: query 0 also sees logit 0, query 1 logit 1
    double wide = (-(3 - Math.log(Math.exp(3) + Math.exp(1) + Math.exp(0)))
        - (2 - Math.log(Math.exp(0.5) + Math.exp(2) + Math.exp(1)))) / 2;
    assertThat(Losses.inBatchInfoNce(array(new double[][] {{3, 1, 0}, {0.5, 2, 1}}), 1).getDouble())
        .isCloseTo(wide, within(1e-9));
  }

  @Test
  void contrastiveImitation() {
    // w = [t⁺, 1 − t₁, 1 − t₂]; loss_b = −w₀z₀ + log Σ_k exp(w_k z_k)
    double[] a0 = {0.9 * 2.0, 0.8 * 0.5, 0.9 * -1.0};
    double[] a1 = {0.6 * 0.0, 0.3 * 1.0, 0.95 * 0.3};
    double l0 = -a0[0] + Math.log(Math.exp(a0[0]) + Math.exp(a0[1]) + Math.exp(a0[2]));
    double l1 = -a1[0] + Math.log(Math.exp(a1[0]) + Math.exp(a1[1]) + Math.exp(a1[2]));
    double expected = (l0 + l1) / 2;
    assertThat(expected).isCloseTo(0.7878676498486193, within(1e-12));
    assertThat(Losses.contrastiveImitation(array(Z), array(T), 1).getDouble()).isCloseTo(expected, within(1e-9));
    // temperature divides every w_k·z_k
    double tau = 2;
    double s0 = -a0[0] / tau + Math.log(Math.exp(a0[0] / tau) + Math.exp(a0[1] / tau) + Math.exp(a0[2] / tau));
    double s1 = -a1[0] / tau + Math.log(Math.exp(a1[0] / tau) + Math.exp(a1[1] / tau) + Math.exp(a1[2] / tau));
    assertThat(Losses.contrastiveImitation(array(Z), array(T), tau).getDouble())
        .isCloseTo((s0 + s1) / 2, within(1e-9));
  }

  @Test
  void rankImitation() {
    double expected = 0;
    for (int b = 0; b < 2; b++) {
      double mz = (Z[b][0] + Z[b][1] + Z[b][2]) / 3;
      double mt = (T[b][0] + T[b][1] + T[b][2]) / 3;
      double cov = 0;
      double vz = 0;
      double vt = 0;
      for (int k = 0; k < 3; k++) {
        cov += (Z[b][k] - mz) * (T[b][k] - mt);
        vz += (Z[b][k] - mz) * (Z[b][k] - mz);
        vt += (T[b][k] - mt) * (T[b][k] - mt);
      }
      expected += (1 - cov / Math.sqrt(vz * vt)) / 2;
    }
    assertThat(expected).isCloseTo(0.36021694443027935, within(1e-12));
    assertThat(Losses.rankImitation(array(Z), array(T)).getDouble()).isCloseTo(expected, within(1e-7));
    // perfectly ordered scores on another scale: r = 1, loss 0; reversed: r = −1, loss 2
    assertThat(Losses.rankImitation(array(new double[][] {{5, 3, 1}}), array(new double[][] {{0.9, 0.5, 0.1}}))
        .getDouble()).isCloseTo(0, within(1e-6));
    assertThat(Losses.rankImitation(array(new double[][] {{1, 3, 5}}), array(new double[][] {{0.9, 0.5, 0.1}}))
        .getDouble()).isCloseTo(2, within(1e-6));
    // a teacher with no preference gives r = 0, not NaN
    assertThat(Losses.rankImitation(array(new double[][] {{1, 3, 5}}), array(new double[][] {{0.5, 0.5, 0.5}}))
        .getDouble()).isCloseTo(1, within(1e-6));
  }

  @Test
  void bprRankImitation() {
    NDArray z = array(Z);
    NDArray t = array(T);
    NDArray easy = array(IN_BATCH);
    NDArray offDiagonal = array(new double[][] {{0, 1}, {1, 0}});
    // query 0: hard (0.5, t 0.2), (−1, t 0.1) vs in-batch logit 1 (teacher 0)
    // query 1: hard (1.0, t 0.7), (0.3, t 0.05) vs in-batch logit 0.5; 4 triples in all
    double expected = (0.2 * softplus(-(0.5 - 1)) + 0.1 * softplus(-(-1 - 1)) + 0.7 * softplus(-(1.0 - 0.5))
        + 0.05 * softplus(-(0.3 - 0.5))) / 4;
    assertThat(expected).isCloseTo(0.19481725758386823, within(1e-12));
    assertThat(Losses.bprRankImitation(z.get(":, 1:"), t.get(":, 1:"), easy, easy.zerosLike(), offDiagonal)
        .getDouble()).isCloseTo(expected, within(1e-9));
    // without a mask and with teacher scores on the easy side: weight max(0, t_k − t_m), 2·2·2 = 8 triples
    double[][] tEasy = {{0.3, 0.0}, {0.1, 0.9}};
    double sum = 0;
    for (int b = 0; b < 2; b++) {
      for (int k = 1; k <= 2; k++) {
        for (int m = 0; m < 2; m++) {
          sum += softplus(-(Z[b][k] - IN_BATCH[b][m])) * Math.max(0, T[b][k] - tEasy[b][m]);
        }
      }
    }
    assertThat(Losses.bprRankImitation(z.get(":, 1:"), t.get(":, 1:"), easy, array(tEasy), null).getDouble())
        .isCloseTo(sum / 8, within(1e-9));
  }

  @Test
  void featureImitation() {
    // query 0: student features (1,0), (1,1): cosine 1/√2; teacher (1,0,0), (0,1,0): cosine 0.
    //   Gram difference has two off-diagonal entries of 1/√2: mean square = 2·(1/2)/4 = 0.25
    // query 1: student (1,0), (−1,0): cosine −1; teacher (1,2), (2,4): cosine 1 (as 2-wide, zero-padded to 3)
    //   two off-diagonal entries of −2: mean square = 2·4/4 = 2
    NDArray student = manager.create(new double[] {1, 0, 1, 1, 1, 0, -1, 0}, new Shape(2, 2, 2));
    NDArray teacher = manager.create(new double[] {1, 0, 0, 0, 1, 0, 1, 2, 0, 2, 4, 0}, new Shape(2, 2, 3));
    assertThat(Losses.featureImitation(student, teacher).getDouble()).isCloseTo((0.25 + 2) / 2, within(1e-7));
    // the loss does not care about feature scale
    assertThat(Losses.featureImitation(student.mul(7), teacher.mul(0.1)).getDouble())
        .isCloseTo(1.125, within(1e-6));
    assertThatThrownBy(() -> Losses.featureImitation(student, teacher.get("0:1")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void hybridPointMargin() {
    double[][] s = {{0.8, 0.3, 0.1}, {0.4, 0.6, 0.2}};
    double point = 0;
    double margin = 0;
    for (int b = 0; b < 2; b++) {
      for (int k = 0; k < 3; k++) {
        point += (s[b][k] - T[b][k]) * (s[b][k] - T[b][k]) / 6;
      }
      for (int k = 1; k < 3; k++) {
        double diff = (s[b][0] - s[b][k]) - (T[b][0] - T[b][k]);
        margin += diff * diff / 4;
      }
    }
    assertThat(point + 0.5 * margin).isCloseTo(0.03822916666666665, within(1e-12));
    assertThat(Losses.hybridPointMargin(array(s), array(T), 0.5).getDouble())
        .isCloseTo(point + 0.5 * margin, within(1e-9));
    assertThat(Losses.hybridPointMargin(array(s), array(T), 0).getDouble()).isCloseTo(point, within(1e-9));
  }

  @Test
  void objectiveSumsTheWeightedTerms() {
    NDArray z = array(Z);
    NDArray t = array(T);
    NDArray inBatch = array(IN_BATCH);
    NDArray features = Djl.gaussian(manager, new Random(1), DataType.FLOAT64, 1, 2, 3, 5);
    NDArray teacherFeatures = Djl.gaussian(manager, new Random(2), DataType.FLOAT64, 1, 2, 3, 2);
    LossConfig config = LossConfig.d2llm().withWeights(0.5, 2, 0.1, 0.3).withTemperatures(0.7, 1.5);
    DistillationLoss.Result r = new DistillationLoss(config)
        .compute(new DistillationLoss.Student(z, features, inBatch), new DistillationLoss.Teacher(t, teacherFeatures));
    double expected = Losses.inBatchInfoNce(inBatch, 0.7).getDouble()
        + 0.5 * Losses.contrastiveImitation(z, t, 1.5).getDouble()
        + 2 * Losses.rankImitation(z, t).getDouble()
        + 0.1 * 0.19481725758386823
        + 0.3 * Losses.featureImitation(features, teacherFeatures).getDouble();
    assertThat(r.terms()).containsOnlyKeys("inBatch", "ci", "ri", "bpr", "fi");
    assertThat(r.total().getDouble()).isCloseTo(expected, within(1e-9));

    DistillationLoss.Result hybrid = new DistillationLoss(LossConfig.hybrid().withHybridLambda(0.5))
        .compute(new DistillationLoss.Student(z, features, inBatch), new DistillationLoss.Teacher(t, null));
    double sigmoidHybrid = Losses.hybridPointMargin(z.neg().exp().add(1).pow(-1), t, 0.5).getDouble();
    assertThat(hybrid.terms()).containsOnlyKeys("inBatch", "hybrid");
    assertThat(hybrid.total().getDouble())
        .isCloseTo(Losses.inBatchInfoNce(inBatch, 1).getDouble() + sigmoidHybrid, within(1e-9));
    assertThat(LossConfig.d2llm()).isEqualTo(new LossConfig(LossConfig.Objective.D2LLM, 1, 1, 1, 1, 1, 0.01, 0.001, 1));
    assertThatThrownBy(() -> LossConfig.d2llm().withTemperatures(0, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  /** Each loss's gradient with respect to the student scores and features, against finite differences. */
  @Test
  void lossGradientsMatchFiniteDifferences() {
    long seed = new Random().nextLong();
    System.out.println("LossesTest gradient seed " + seed);
    Random random = new Random(seed);
    NDArray t = manager.create(new double[] {0.9, 0.2, 0.1, 0.6, 0.7, 0.05}, new Shape(2, 3));
    NDArray teacherFeatures = Djl.gaussian(manager, random, DataType.FLOAT64, 1, 2, 3, 2);
    NDArray offDiagonal = array(new double[][] {{0, 1}, {1, 0}});
    checkGradient(random, new Shape(2, 2), x -> Losses.inBatchInfoNce(x, 0.7));
    checkGradient(random, new Shape(2, 3), x -> Losses.contrastiveImitation(x, t, 1.3));
    checkGradient(random, new Shape(2, 3), x -> Losses.rankImitation(x, t));
    checkGradient(random, new Shape(2, 3), x -> Losses.hybridPointMargin(x, t, 0.5));
    checkGradient(random, new Shape(2, 3, 4), x -> Losses.featureImitation(x, teacherFeatures));
    checkGradient(random, new Shape(2, 2),
        x -> Losses.bprRankImitation(t.get(":, 1:").mul(3), t.get(":, 1:"), x, x.zerosLike(), offDiagonal));
  }

  private static void checkGradient(Random random, Shape shape, Function<NDArray, NDArray> loss) {
    try (NDManager m = manager.newSubManager()) {
      NDArray x = Djl.gaussian(m, random, DataType.FLOAT64, 1, shape.getShape());
      NDArray u = Djl.gaussian(m, random, DataType.FLOAT64, 1, shape.getShape());
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        gc.backward(loss.apply(x));
      }
      double analytic = x.getGradient().mul(u).sum().getDouble();
      x.setRequiresGradient(false);
      double eps = 1e-6;
      double numeric = (loss.apply(x.add(u.mul(eps))).getDouble() - loss.apply(x.sub(u.mul(eps))).getDouble())
          / (2 * eps);
      assertThat(analytic).isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
    }
  }
}
