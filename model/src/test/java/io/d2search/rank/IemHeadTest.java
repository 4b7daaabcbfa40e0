package io.d2search.rank;

import static io.d2search.testing.Seeds.gaussian;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.nn.Linear;
import io.d2search.nn.MatMul;
import io.d2search.rank.IemHead.Branch;
import io.d2search.rank.IemHead.Input;
import io.d2search.testing.Seeds;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The IEM forward against a literal implementation and a case worked by hand. */
class IemHeadTest {

  static IemHead randomHead(Random random, Input input, int d, int hidden) {
    return new IemHead(input, randomLinear(random, hidden, input.blocks() * d), randomLinear(random, hidden, hidden),
        randomLinear(random, hidden, hidden), randomLinear(random, 1, hidden));
  }

  private static Linear randomLinear(Random random, int out, int in) {
    return Linear.of(out, in, gaussian(random, out * in, 2 / Math.sqrt(in)), gaussian(random, out, 0.1));
  }

  /** The doc's formulas, literally, in double: build x, then fc1, ReLU, proj_b, ReLU, out. */
  static double[] naive(IemHead head, float[] q, float[] p, Branch branch) {
    int d = q.length;
    double[] x = new double[head.input().blocks() * d];
    List<IemHead.Part> parts = head.input().parts();
    for (int b = 0; b < parts.size(); b++) {
      for (int i = 0; i < d; i++) {
        x[b * d + i] = switch (parts.get(b)) {
          case QUERY -> q[i];
          case PASSAGE -> p[i];
          case PRODUCT -> (double) q[i] * p[i];
          case DISTANCE -> Math.abs((double) q[i] - p[i]);
        };
      }
    }
    double[] h = relu(linear(head.fc1(), x));
    double[] f = relu(linear(head.proj(branch), h));
    double z = linear(head.out(), f)[0];
    double[] result = new double[f.length + 1];
    System.arraycopy(f, 0, result, 0, f.length);
    result[f.length] = z;
    return result; // f, then z
  }

  private static double[] linear(Linear layer, double[] x) {
    double[] y = new double[layer.out()];
    for (int r = 0; r < y.length; r++) {
      y[r] = layer.bias(r);
      for (int c = 0; c < x.length; c++) {
        y[r] += layer.weight(r, c) * x[c];
      }
    }
    return y;
  }

  private static double[] relu(double[] v) {
    for (int i = 0; i < v.length; i++) {
      v[i] = Math.max(0, v[i]);
    }
    return v;
  }

  @Test
  void matchesTheLiteralForward() {
    Random random = Seeds.random("matchesTheLiteralForward");
    double worst = 0;
    for (Input input : Input.values()) {
      for (int[] shape : new int[][] {{2, 3}, {8, 16}, {384, 512}}) {
        int d = shape[0];
        // every kernel computes the same forward (the default, MatMul.best(), is one of them)
        MatMul[] kernels = {MatMul.scalar(), MatMul.dotProducts(), MatMul.best()};
        IemHead head = randomHead(random, input, d, shape[1]).withKernel(kernels[random.nextInt(kernels.length)]);
        float[] q = Seeds.unit(random, d);
        List<float[]> passages = new ArrayList<>();
        for (int i = 0; i < IemHead.BLOCK + 6; i++) { // more than one block
          passages.add(i == 0 ? q.clone() : Seeds.unit(random, d));
        }
        for (Branch branch : Branch.values()) {
          float[] logits = head.logits(q, passages, branch);
          for (int i = 0; i < passages.size(); i++) {
            double[] expected = naive(head, q, passages.get(i), branch);
            double z = expected[expected.length - 1];
            float[] f = head.feature(q, passages.get(i), branch);
            assertThat(f).hasSize(shape[1]);
            for (int k = 0; k < f.length; k++) {
              assertThat((double) f[k]).isCloseTo(expected[k], within(1e-5 * Math.max(1, Math.abs(expected[k]))));
            }
            double tolerance = 1e-5 * Math.max(1, Math.abs(z));
            assertThat((double) logits[i]).as("%s %s d=%d passage %d", input, branch, d, i)
                .isCloseTo(z, within(tolerance));
            assertThat((double) head.logit(q, passages.get(i), branch)).isCloseTo(logits[i], within(tolerance));
            worst = Math.max(worst, Math.abs(logits[i] - z) / Math.max(1, Math.abs(z)));
          }
        }
      }
    }
    System.out.println("IEM vs literal forward: max relative logit diff " + worst);
  }

  /**
   * d = 2, hidden 2, input concat: q = [1, 0], p = [0.6, 0.8], x = [1, 0, 0.6, 0.8].
   * fc1: W = [[1, 0, 1, 0], [0, -1, 0, 1]], b = [0, 0.5] → h = ReLU([1.6, 1.3]) = [1.6, 1.3].
   * proj0: W = [[1, 1], [1, -1]], b = 0 → f = [2.9, 0.3]; proj1: W = [[-1, 0], [0, 2]], b = [0.5, 0] → f = [0, 2.6].
   * out: w = [1, -2], b = 0.25 → symmetric 2.9 − 0.6 + 0.25 = 2.55, asymmetric 0 − 5.2 + 0.25 = −4.95.
   */
  @Test
  void concatByHand() {
    IemHead head = new IemHead(Input.CONCAT,
        Linear.of(2, 4, new float[] {1, 0, 1, 0, 0, -1, 0, 1}, new float[] {0, 0.5f}),
        Linear.of(2, 2, new float[] {1, 1, 1, -1}, new float[] {0, 0}),
        Linear.of(2, 2, new float[] {-1, 0, 0, 2}, new float[] {0.5f, 0}),
        Linear.of(1, 2, new float[] {1, -2}, new float[] {0.25f}));
    float[] q = {1, 0};
    float[] p = {0.6f, 0.8f};
    assertThat(head.dimension()).isEqualTo(2);
    assertThat(head.hidden()).isEqualTo(2);
    assertThat(head.feature(q, p, Branch.SYMMETRIC)).containsExactly(new float[] {2.9f, 0.3f}, within(1e-6f));
    assertThat(head.feature(q, p, Branch.ASYMMETRIC)).containsExactly(new float[] {0f, 2.6f}, within(1e-6f));
    assertThat(head.logit(q, p, Branch.SYMMETRIC)).isCloseTo(2.55f, within(1e-6f));
    assertThat(head.logit(q, p, Branch.ASYMMETRIC)).isCloseTo(-4.95f, within(1e-6f));
  }

  /**
   * d = 2, hidden 1, input interaction: q ⊙ p = [0.6, 0], |q − p| = [0.4, 0.8]; fc1 reads only those two blocks
   * (weights 1) → h = 1.8. proj0: 2·h − 1 = 2.6; proj1: ReLU(−h) = 0; out: identity → 2.6 and 0.
   */
  @Test
  void interactionByHand() {
    IemHead head = new IemHead(Input.INTERACTION,
        Linear.of(1, 8, new float[] {0, 0, 0, 0, 1, 1, 1, 1}, new float[] {0}),
        Linear.of(1, 1, new float[] {2}, new float[] {-1}),
        Linear.of(1, 1, new float[] {-1}, new float[] {0}),
        Linear.of(1, 1, new float[] {1}, new float[] {0}));
    float[] q = {1, 0};
    float[] p = {0.6f, 0.8f};
    assertThat(head.logit(q, p, Branch.SYMMETRIC)).isCloseTo(2.6f, within(1e-6f));
    assertThat(head.logit(q, p, Branch.ASYMMETRIC)).isEqualTo(0f);
    assertThat(head.logits(q, List.of(p, q), Branch.SYMMETRIC)).containsExactly(new float[] {2.6f, 1f}, within(1e-6f));
  }

  /**
   * d = 2, hidden 1, input interaction-only: x = [q ⊙ p, |q − p|] = [0.6, 0, 0.4, 0.8]; fc1 w = [1, 2, −1, 0.5],
   * b = 0.1 → h = 0.6 − 0.4 + 0.4 + 0.1 = 0.7; proj0 2·h − 1 = 0.4; out 3·f → 1.2. The same passage against another
   * query changes h, and no weight reads p alone: a passage equal to the query scores from its product block only.
   */
  @Test
  void interactionOnlyByHand() {
    IemHead head = new IemHead(Input.INTERACTION_ONLY,
        Linear.of(1, 4, new float[] {1, 2, -1, 0.5f}, new float[] {0.1f}),
        Linear.of(1, 1, new float[] {2}, new float[] {-1}),
        Linear.of(1, 1, new float[] {1}, new float[] {0}),
        Linear.of(1, 1, new float[] {3}, new float[] {0}));
    float[] q = {1, 0};
    float[] p = {0.6f, 0.8f};
    assertThat(head.dimension()).isEqualTo(2);
    assertThat(head.logit(q, p, Branch.SYMMETRIC)).isCloseTo(1.2f, within(1e-6f));
    assertThat(head.logit(q, p, Branch.ASYMMETRIC)).isCloseTo(3 * 0.7f, within(1e-6f));
    // p against itself: q ⊙ p = [0.36, 0.64], |q − p| = 0 → h = 0.36 + 1.28 + 0.1 = 1.74
    assertThat(head.logit(p, p, Branch.ASYMMETRIC)).isCloseTo(3 * 1.74f, within(1e-5f));
    assertThat(Input.fromId("interaction-only")).isEqualTo(Input.INTERACTION_ONLY);
    assertThat(Input.INTERACTION_ONLY.block(IemHead.Part.PRODUCT)).isZero();
    assertThat(Input.INTERACTION_ONLY.block(IemHead.Part.PASSAGE)).isEqualTo(-1);
  }

  @Test
  void refusesWhatDoesNotFit() {
    Random random = Seeds.random("refusesWhatDoesNotFit");
    IemHead head = randomHead(random, Input.CONCAT, 4, 8);
    assertThatThrownBy(() -> head.logit(new float[4], new float[5], Branch.SYMMETRIC))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("passage");
    assertThatThrownBy(() -> head.logits(new float[3], List.of(), Branch.SYMMETRIC))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query");
    assertThat(head.logits(new float[4], List.of(), Branch.ASYMMETRIC)).isEmpty();
    assertThatThrownBy(() -> new IemHead(Input.INTERACTION, Linear.zeros(8, 6), Linear.zeros(8, 8), Linear.zeros(8, 8),
        Linear.zeros(1, 8))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 4");
    assertThatThrownBy(() -> new IemHead(Input.CONCAT, Linear.zeros(8, 6), Linear.zeros(8, 8), Linear.zeros(7, 8),
        Linear.zeros(1, 8))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("proj");
    assertThatThrownBy(() -> new IemHead(Input.CONCAT, Linear.zeros(8, 6), Linear.zeros(8, 8), Linear.zeros(8, 8),
        Linear.zeros(2, 8))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out");
    assertThat(Input.fromId("interaction")).isEqualTo(Input.INTERACTION);
    assertThatThrownBy(() -> Input.fromId("sum")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void isSafeToShareAcrossThreads() throws Exception {
    Random random = Seeds.random("isSafeToShareAcrossThreads");
    IemHead head = randomHead(random, Input.INTERACTION, 64, 128);
    float[] q = Seeds.unit(random, 64);
    List<float[]> passages = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      passages.add(Seeds.unit(random, 64));
    }
    float[] expected = head.logits(q, passages, Branch.ASYMMETRIC);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<float[]>> results = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        results.add(pool.submit(() -> head.logits(q, passages, Branch.ASYMMETRIC)));
      }
      for (Future<float[]> r : results) {
        // equal up to float rounding: SIMD summation order may change as the JIT compiles
        assertThat(r.get()).containsExactly(expected, within(1e-5f));
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
