package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class PairScorerTest {
  private static final Map<String, float[]> VECTORS = Map.of(
      "a", new float[] {1, 0, 0},
      "b", new float[] {0, 2, 0}, // not unit length: cosine must still be a cosine
      "c", new float[] {3, 3, 0},
      "z", new float[] {0, 0, 0});

  /** A fake encoder that records each call, so tests can see every distinct text encoded once. */
  private final List<List<String>> calls = new ArrayList<>();
  private final Function<List<String>, List<float[]>> encoder = texts -> {
    calls.add(List.copyOf(texts));
    return texts.stream().map(VECTORS::get).toList();
  };

  @Test
  void cosineOfPairsEncodesEachDistinctTextOnce() {
    double[] scores = PairScorer.cosine(encoder).score(List.of("a", "a", "c", "a"), List.of("b", "c", "a", "z"));
    assertThat(scores[0]).isCloseTo(0, within(1e-12));
    assertThat(scores[1]).isCloseTo(Math.sqrt(0.5), within(1e-7));
    assertThat(scores[2]).isCloseTo(Math.sqrt(0.5), within(1e-7));
    assertThat(scores[3]).isZero(); // zero vector
    assertThat(calls).containsExactly(List.of("a", "b", "c", "z"));
    assertThat(PairScorer.cosine(encoder).score(List.of(), List.of())).isEmpty();
    assertThatThrownBy(() -> PairScorer.cosine(encoder).score(List.of("a"), List.of()))
        .hasMessageContaining("differ in length");
  }

  @Test
  void iemScorerIsTheSymmetricBranchLogitWithTheFirstSentenceAsQuery() {
    IemHead iem = randomIem(new Random(5), 3, 8);
    double[] scores = PairScorer.iemSymmetric(encoder, iem).score(List.of("a", "c", "b"), List.of("c", "a", "a"));
    assertThat(scores[0]).isEqualTo(iem.logit(VECTORS.get("a"), VECTORS.get("c"), IemHead.Branch.SYMMETRIC));
    assertThat(scores[1]).isEqualTo(iem.logit(VECTORS.get("c"), VECTORS.get("a"), IemHead.Branch.SYMMETRIC));
    assertThat(scores[2]).isEqualTo(iem.logit(VECTORS.get("b"), VECTORS.get("a"), IemHead.Branch.SYMMETRIC));
    // the branches differ, so this really is proj0 and not proj1
    assertThat(scores[0]).isNotEqualTo(iem.logit(VECTORS.get("a"), VECTORS.get("c"), IemHead.Branch.ASYMMETRIC));
  }

  static IemHead randomIem(Random random, int d, int hidden) {
    return new IemHead(IemHead.Input.INTERACTION, random(random, hidden, 4 * d), random(random, hidden, hidden),
        random(random, hidden, hidden), random(random, 1, hidden));
  }

  private static Linear random(Random random, int out, int in) {
    float[] w = new float[out * in];
    float[] b = new float[out];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) random.nextGaussian();
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = (float) random.nextGaussian() * 0.1f + 0.5f;
    }
    return Linear.of(out, in, w, b);
  }
}
