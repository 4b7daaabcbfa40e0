package io.d2search.embed;

import static io.d2search.testing.Seeds.gaussian;
import static io.d2search.testing.Seeds.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;
import io.d2search.testing.Seeds;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link PmaHead}'s serving shortcut against the literal formula, and its "mean" initialisation. */
class PmaHeadTest {
  private static final int[][] SHAPES = {{8, 1}, {8, 2}, {12, 3}, {16, 4}, {64, 8}, {96, 12}, {384, 8}};

  /** A head with random weights; {@code keyScale} sharpens the attention. */
  static PmaHead randomHead(Random random, int d, int heads) {
    double keyScale = 0.5 + 4 * random.nextDouble();
    return new PmaHead(heads, gaussian(random, d, 1), randomLinear(random, d, 1), randomLinear(random, d, keyScale),
        randomLinear(random, d, 1), randomLinear(random, d, 1), randomNorm(random, d), randomNorm(random, d));
  }

  private static Linear randomLinear(Random random, int d, double scale) {
    return Linear.of(d, d, gaussian(random, d * d, scale / Math.sqrt(d)), gaussian(random, d, 0.3));
  }

  private static LayerNorm randomNorm(Random random, int d) {
    float[] gamma = gaussian(random, d, 0.2);
    for (int i = 0; i < d; i++) {
      gamma[i] += 1;
    }
    return new LayerNorm(gamma, gaussian(random, d, 0.2));
  }

  /** A mask with at least one real token: right padding half the time, scattered otherwise. */
  static long[] randomMask(Random random, int tokens) {
    long[] mask = new long[tokens];
    if (random.nextBoolean()) {
      int real = 1 + random.nextInt(tokens);
      for (int t = 0; t < real; t++) {
        mask[t] = 1;
      }
    } else {
      double p = random.nextDouble();
      for (int t = 0; t < tokens; t++) {
        mask[t] = random.nextDouble() < p ? 1 : 0;
      }
      mask[random.nextInt(tokens)] = 1;
    }
    return mask;
  }

  static float[][] randomStates(Random random, int tokens, int d) {
    float[][] x = new float[tokens][];
    double scale = 0.1 + 2 * random.nextDouble();
    for (int t = 0; t < tokens; t++) {
      x[t] = gaussian(random, d, scale);
    }
    return x;
  }

  @Test
  void shortcutEqualsTheLiteralForward() {
    Random random = Seeds.random("shortcutEqualsTheLiteralForward");
    double worst = 0;
    for (int trial = 0; trial < 80; trial++) {
      int[] shape = SHAPES[trial % SHAPES.length];
      PmaHead head = randomHead(random, shape[0], shape[1]);
      int tokens = 1 + random.nextInt(40);
      float[][] x = randomStates(random, tokens, shape[0]);
      long[] mask = randomMask(random, tokens);
      float[] fast = head.pool(x, mask);
      float[] naive = PmaReference.forward(head, x, mask);
      double diff = maxAbsDiff(fast, naive);
      worst = Math.max(worst, diff);
      assertThat(diff).as("trial %d, d=%d, h=%d, T=%d", trial, shape[0], shape[1], tokens).isLessThanOrEqualTo(1e-5);
      assertThat(Seeds.cosine(fast, fast)).isCloseTo(1.0, within(1e-6));
    }
    System.out.println("PMA shortcut vs literal forward: max abs diff " + worst);
  }

  @Test
  void batchedStatesGiveTheSameVectorsAndPaddingIsIgnored() {
    Random random = Seeds.random("batchedStatesGiveTheSameVectorsAndPaddingIsIgnored");
    int d = 16;
    PmaHead head = randomHead(random, d, 4);
    int batch = 3;
    int tokens = 9;
    float[] data = gaussian(random, batch * tokens * d, 1);
    long[][] mask = new long[batch][];
    for (int i = 0; i < batch; i++) {
      mask[i] = randomMask(random, tokens);
    }
    TokenStates states = new TokenStates(data, batch, tokens, d, mask);
    for (int i = 0; i < batch; i++) {
      float[][] x = states.sequence(i);
      float[] pooled = head.pool(states, i);
      assertThat(pooled).containsExactly(head.pool(x, mask[i]));
      for (int t = 0; t < tokens; t++) {
        if (mask[i][t] == 0) {
          x[t] = gaussian(random, d, 100); // padding may hold anything
        }
      }
      assertThat(head.pool(x, mask[i])).containsExactly(pooled);
    }
  }

  @Test
  void meanInitIsTheNormalisedLayerNormOfSeedPlusMean() {
    Random random = Seeds.random("meanInitIsTheNormalisedLayerNormOfSeedPlusMean");
    for (int[] shape : SHAPES) {
      int d = shape[0];
      PmaHead head = PmaHead.meanInit(d, shape[1], random.nextLong());
      int tokens = 1 + random.nextInt(30);
      float[][] x = randomStates(random, tokens, d);
      long[] mask = randomMask(random, tokens);
      float[] expected = head.seed();
      int real = 0;
      for (long m : mask) {
        real += (int) m;
      }
      for (int t = 0; t < tokens; t++) {
        for (int i = 0; mask[t] != 0 && i < d; i++) {
          expected[i] += x[t][i] / real;
        }
      }
      MeanPooling.normalize(LayerNorm.identity(d).applyInPlace(expected));
      assertThat(maxAbsDiff(head.pool(x, mask), expected)).as("d=%d", d).isLessThan(1e-5);
      assertThat(maxAbsDiff(PmaReference.forward(head, x, mask), expected)).isLessThan(1e-5);
    }
  }

  @Test
  void meanInitFollowsTheDocAndIsReproducible() {
    PmaHead a = PmaHead.meanInit(384, 8, 7);
    PmaHead b = PmaHead.meanInit(384, 8, 7);
    assertThat(a.seed()).containsExactly(b.seed());
    assertThat(a.seed()).isNotEqualTo(PmaHead.meanInit(384, 8, 8).seed());
    double sumSq = 0;
    for (float s : a.seed()) {
      sumSq += s * s;
    }
    assertThat(Math.sqrt(sumSq / 384)).isBetween(0.008, 0.012); // S ~ N(0, 0.01²)
    assertThat(a.fcQ().weightRowMajor()).containsExactly(Linear.identity(384).weightRowMajor());
    assertThat(a.fcV().weightRowMajor()).containsExactly(Linear.identity(384).weightRowMajor());
    assertThat(a.fcK().weightRowMajor()).containsOnly(0f);
    assertThat(a.fcO().weightRowMajor()).containsOnly(0f);
    assertThat(a.ln0().gamma()).containsOnly(1f);
    assertThat(a.ln1().beta()).containsOnly(0f);
    assertThat(a.heads()).isEqualTo(8);
    assertThat(a.name()).isEqualTo("pma");
  }

  @Test
  void refusesShapesThatDoNotFit() {
    assertThatThrownBy(() -> PmaHead.meanInit(10, 3, 1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("divide");
    assertThatThrownBy(() -> new PmaHead(2, new float[8], Linear.identity(8), Linear.zeros(8, 4), Linear.identity(8),
        Linear.zeros(8, 8), LayerNorm.identity(8), LayerNorm.identity(8)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fc_k");
    assertThatThrownBy(() -> new PmaHead(2, new float[8], Linear.identity(8), Linear.zeros(8, 8), Linear.identity(8),
        Linear.zeros(8, 8), LayerNorm.identity(8), LayerNorm.identity(6)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ln1");
    PmaHead head = PmaHead.meanInit(8, 2, 1);
    assertThatThrownBy(() -> head.pool(new float[2][8], new long[2])).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no real token");
    assertThatThrownBy(() -> head.pool(new TokenStates(new float[12], 1, 2, 6, new long[][] {{1, 1}}), 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension");
  }

  @Test
  void givesTheSameBitsOnEveryCall() {
    Random random = Seeds.random("givesTheSameBitsOnEveryCall");
    PmaHead head = randomHead(random, 64, 8);
    float[][] x = randomStates(random, 20, 64);
    long[] mask = randomMask(random, 20);
    float[] first = head.pool(x, mask);
    for (int i = 0; i < 3000; i++) { // long enough for the JIT to recompile the forward
      assertThat(head.pool(x, mask)).containsExactly(first);
    }
  }

  @Test
  void seedArrayIsCopiedIn() {
    float[] seed = new float[8];
    PmaHead head = new PmaHead(2, seed, Linear.identity(8), Linear.zeros(8, 8), Linear.identity(8),
        Linear.zeros(8, 8), LayerNorm.identity(8), LayerNorm.identity(8));
    float[][] x = {{1, 2, 3, 4, 5, 6, 7, 8}};
    float[] before = head.pool(x, new long[] {1});
    seed[0] = 1000;
    head.seed()[1] = 1000;
    assertThat(head.pool(x, new long[] {1})).containsExactly(before);
  }
}
