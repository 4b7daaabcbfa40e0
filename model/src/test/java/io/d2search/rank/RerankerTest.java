package io.d2search.rank;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.nn.Linear;
import io.d2search.rank.IemHead.Branch;
import io.d2search.rank.IemHead.Input;
import io.d2search.rank.Reranker.Scored;
import io.d2search.testkit.Randomized;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** The re-ranking order: a stable sort by IEM logit, as a property over random heads and candidate lists. */
class RerankerTest {

  /**
   * A head whose forward pass is exact in float: weights and biases are multiples of 1/4 in [−1/2, 1/2] and (see
   * {@link #quantized}) vector components multiples of 1/4 in [−1, 1], so with d ≤ 8 and hidden ≤ 12 every partial
   * sum fits in float's 24 bits. Its logits are then the same to the bit whatever order SIMD sums in, and coarse
   * enough that distinct candidates often tie.
   */
  private static IemHead exactHead(Random random, Input input, int d, int hidden) {
    return new IemHead(input, quarters(random, hidden, input.blocks() * d), quarters(random, hidden, hidden),
        quarters(random, hidden, hidden), quarters(random, 1, hidden));
  }

  private static Linear quarters(Random random, int out, int in) {
    float[] w = new float[out * in];
    for (int i = 0; i < w.length; i++) {
      w[i] = (random.nextInt(5) - 2) / 4f;
    }
    float[] b = new float[out];
    for (int i = 0; i < b.length; i++) {
      b[i] = (random.nextInt(5) - 2) / 4f;
    }
    return Linear.of(out, in, w, b);
  }

  private static float[] quantized(Random random, int d) {
    float[] v = new float[d];
    for (int i = 0; i < d; i++) {
      v[i] = (random.nextInt(9) - 4) / 4f;
    }
    return v;
  }

  /** n candidates from {@code vector}, about a quarter of them copies of an earlier one (exact duplicates). */
  private static List<float[]> candidates(Random random, int n, java.util.function.Supplier<float[]> vector) {
    List<float[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(i > 0 && random.nextInt(4) == 0 ? out.get(random.nextInt(i)).clone() : vector.get());
    }
    return out;
  }

  /** The candidates' positions sorted by logit, larger first, stable: the documented order, written out. */
  private static List<Integer> stableOrder(float[] logits) {
    return IntStream.range(0, logits.length).boxed()
        .sorted(Comparator.comparing((Integer i) -> logits[i], (a, b) -> Float.compare(b, a))).toList();
  }

  /** Invariants of any result: distinct candidates in range, logits non-increasing, ties in first-stage order. */
  private static void assertOrdered(List<Scored> ranked, int n, String what) {
    assertThat(ranked.stream().mapToInt(Scored::candidate).distinct().count()).as(what).isEqualTo(ranked.size());
    for (int i = 0; i < ranked.size(); i++) {
      assertThat(ranked.get(i).candidate()).as(what).isBetween(0, n - 1);
      if (i > 0) {
        Scored before = ranked.get(i - 1);
        Scored here = ranked.get(i);
        assertThat(Float.compare(before.logit(), here.logit())).as(what + ", position " + i).isGreaterThanOrEqualTo(0);
        if (Float.compare(before.logit(), here.logit()) == 0) {
          assertThat(here.candidate()).as(what + ": equal logits keep the first-stage order, position " + i)
              .isGreaterThan(before.candidate());
        }
      }
    }
  }

  @Test
  void isTheStableSortByLogitAndTopKIsItsPrefix(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int ties = 0;
    for (int round = 0; round < Randomized.atLeast(random, 200); round++) {
      Input input = Input.values()[random.nextInt(Input.values().length)];
      int d = 1 + random.nextInt(8);
      Reranker reranker = new Reranker(exactHead(random, input, d, 1 + random.nextInt(12)));
      float[] q = quantized(random, d);
      int n = random.nextInt(80);
      List<float[]> candidates = candidates(random, n, () -> quantized(random, d));
      String what = "round " + round + " (" + input.id() + ", d " + d + ", " + n + " candidates)";

      List<Scored> all = reranker.rerank(q, candidates);
      // The oracle: the head's own logits (exact, so equal to the bit), sorted stably.
      float[] logits = reranker.iem().logits(q, candidates, Branch.ASYMMETRIC);
      assertThat(all).as(what).extracting(Scored::candidate).containsExactlyElementsOf(stableOrder(logits));
      assertThat(all).as(what + ": a permutation").extracting(Scored::candidate)
          .containsExactlyInAnyOrderElementsOf(IntStream.range(0, n).boxed().toList());
      for (Scored s : all) {
        assertThat(s.logit()).as(what).isEqualTo(logits[s.candidate()]);
      }
      assertOrdered(all, n, what);
      // A copy of an earlier candidate ties with it and stays behind it.
      int[] position = new int[n];
      for (int i = 0; i < n; i++) {
        position[all.get(i).candidate()] = i;
      }
      for (int j = 0; j < n; j++) {
        for (int i = 0; i < j; i++) {
          if (Arrays.equals(candidates.get(i), candidates.get(j))) {
            assertThat(position[i]).as(what + ": duplicate " + j + " of " + i).isLessThan(position[j]);
          }
        }
      }
      for (int i = 1; i < n; i++) {
        ties += Float.compare(all.get(i - 1).logit(), all.get(i).logit()) == 0 ? 1 : 0;
      }

      int k = 1 + random.nextInt(n + 5);
      assertThat(reranker.rerank(q, candidates, k)).as(what + ", k " + k).isEqualTo(all.subList(0, Math.min(k, n)));
    }
    assertThat(ties).as("rounds with tied logits (the property under test)").isPositive();
  }

  @Test
  void ordersAnyHeadByItsLogitsUpToFloatRounding(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    for (int round = 0; round < Randomized.atLeast(random, 20); round++) {
      Input input = Input.values()[random.nextInt(Input.values().length)];
      int d = 4 + random.nextInt(64);
      IemHead iem = IemHeads.random(random, input, d, 8 + random.nextInt(64));
      Reranker reranker = new Reranker(iem);
      float[] q = Randomized.unitVector(random, d);
      int n = 1 + random.nextInt(150);
      List<float[]> candidates = candidates(random, n, () -> Randomized.unitVector(random, d));
      int k = 1 + random.nextInt(n + 5);
      String what = "round " + round + " (" + input.id() + ", d " + d + ", " + n + " candidates, k " + k + ")";

      List<Scored> top = reranker.rerank(q, candidates, k);
      assertThat(top).as(what).hasSize(Math.min(k, n));
      assertOrdered(top, n, what);
      float[] logits = iem.logits(q, candidates, Branch.ASYMMETRIC);
      List<Integer> expected = stableOrder(logits);
      for (int i = 0; i < top.size(); i++) {
        Scored got = top.get(i);
        float tolerance = 1e-4f * Math.max(1, Math.abs(logits[got.candidate()]));
        assertThat(got.logit()).as(what).isCloseTo(logits[got.candidate()], within(tolerance));
        // The oracle's candidate, or one whose logit ties with it up to float rounding (two SIMD passes).
        if (got.candidate() != expected.get(i)) {
          assertThat(got.logit()).as(what + ", position " + i).isCloseTo(logits[expected.get(i)], within(tolerance));
        }
      }
    }
  }

  @Test
  void anIemWithOneLogitForAllKeepsTheFirstStageOrder() {
    int d = 6;
    IemHead constant = new IemHead(Input.CONCAT, Linear.zeros(4, 2 * d), Linear.zeros(4, 4), Linear.zeros(4, 4),
        Linear.of(1, 4, new float[4], new float[] {0.25f}));
    Random random = new Random(7);
    List<float[]> candidates = candidates(random, 30, () -> Randomized.unitVector(random, d));
    List<Scored> ranked = new Reranker(constant).rerank(Randomized.unitVector(random, d), candidates, 10);
    assertThat(ranked).extracting(Scored::candidate).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    assertThat(ranked).extracting(Scored::logit).containsOnly(0.25f);
  }

  @Test
  void theSameInputsFromManyThreadsGiveOneOrder() throws Exception {
    Random random = new Random(11);
    int d = 8;
    Reranker reranker = new Reranker(exactHead(random, Input.INTERACTION, d, 12));
    float[] q = quantized(random, d);
    List<float[]> candidates = candidates(random, 200, () -> quantized(random, d));
    List<Scored> expected = reranker.rerank(q, candidates);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<Scored>>> results = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        results.add(pool.submit(() -> reranker.rerank(q, candidates)));
      }
      for (Future<List<Scored>> result : results) {
        assertThat(result.get()).isEqualTo(expected);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void refusesABadKOrDimensionAndReturnsAnUnmodifiableList() {
    Random random = new Random(3);
    int d = 5;
    Reranker reranker = new Reranker(exactHead(random, Input.INTERACTION_ONLY, d, 4));
    float[] q = quantized(random, d);
    List<float[]> candidates = List.of(quantized(random, d), quantized(random, d));
    assertThat(reranker.rerank(q, List.of())).isEmpty();
    assertThat(reranker.rerank(q, List.of(), 3)).isEmpty();
    assertThatThrownBy(() -> reranker.rerank(q, candidates, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("k must be >= 1");
    assertThatThrownBy(() -> reranker.rerank(new float[d + 1], candidates))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> reranker.rerank(q, List.of(new float[d - 1]))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Reranker(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> new Scored(-1, 0f)).isInstanceOf(IllegalArgumentException.class);
    List<Scored> ranked = reranker.rerank(q, candidates);
    assertThatThrownBy(() -> ranked.add(new Scored(0, 0f))).isInstanceOf(UnsupportedOperationException.class);
  }
}
