package io.d2search.rank;

import io.d2search.nn.Linear;
import io.d2search.rank.IemHead.Input;
import java.util.Random;

/**
 * IEM heads for tests, shared through this module's test jar (the query service's and the lab's tests use it):
 * random weights, and hand-built heads whose order is known.
 */
public final class IemHeads {
  private IemHeads() {}

  /** Gaussian weights (He-like scale, so logits spread) and small biases, as the model module's tests use. */
  public static IemHead random(Random random, Input input, int d, int hidden) {
    return new IemHead(input, linear(random, hidden, input.blocks() * d), linear(random, hidden, hidden),
        linear(random, hidden, hidden), linear(random, 1, hidden));
  }

  private static Linear linear(Random random, int out, int in) {
    float[] w = new float[out * in];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (random.nextGaussian() * 2 / Math.sqrt(in));
    }
    float[] b = new float[out];
    for (int i = 0; i < b.length; i++) {
      b[i] = (float) (random.nextGaussian() * 0.1);
    }
    return Linear.of(out, in, w, b);
  }

  /**
   * z = −(1 + q·p): fc1 reads only the q ⊙ p block (weights 1, bias 1, so h = 1 + q·p ≥ 0 passes the ReLU), both
   * projections are the identity, out negates. It ranks the least similar candidate first: the HNSW order reversed.
   */
  public static IemHead negatedSimilarity(int d) {
    float[] fc1 = new float[4 * d];
    for (int i = 2 * d; i < 3 * d; i++) {
      fc1[i] = 1;
    }
    Linear identity = Linear.of(1, 1, new float[] {1}, new float[] {0});
    return new IemHead(Input.INTERACTION, Linear.of(1, 4 * d, fc1, new float[] {1}), identity, identity,
        Linear.of(1, 1, new float[] {-1}, new float[] {0}));
  }

  /** Every pair gets the same logit: out's weights are zero. */
  public static IemHead constant(int d) {
    return new IemHead(Input.CONCAT, Linear.zeros(4, 2 * d), Linear.zeros(4, 4), Linear.zeros(4, 4),
        Linear.of(1, 4, new float[4], new float[] {0.25f}));
  }
}
