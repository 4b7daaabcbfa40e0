package io.d2search.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.testing.Seeds;
import io.d2search.testing.Sentences;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Poolings on real token states of the bundled all-MiniLM-L6-v2. */
class PoolingOnMiniLmTest {
  static final List<String> SENTENCES = Sentences.VARIED;

  private static Embedder embedder;
  private static TokenStates states;

  @BeforeAll
  static void load() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
    states = embedder.tokenStates(SENTENCES);
  }

  @AfterAll
  static void close() {
    embedder.close();
  }

  @Test
  void meanInitialisedPmaPointsWhereMeanPoolingDoes() {
    double min = 1;
    double sum = 0;
    int n = 0;
    for (long seed : new long[] {0xD2L, 1, 2, 3, 42}) {
      PmaHead pma = PmaHead.meanInit(states.dim(), 8, seed);
      for (int i = 0; i < SENTENCES.size(); i++) {
        double cos = Seeds.cosine(pma.pool(states, i), states.meanPooled(i));
        assertThat(cos).as("seed %d, sentence %d: %s", seed, i, SENTENCES.get(i)).isGreaterThan(0.99);
        min = Math.min(min, cos);
        sum += cos;
        n++;
      }
    }
    System.out.printf("PMA(mean init) vs mean pooling on %d MiniLM sentences x 5 seeds: min cosine %.6f, mean %.6f%n",
        SENTENCES.size(), min, sum / n);
  }

  @Test
  void shortcutEqualsTheLiteralForwardOnRealStates() {
    Random random = Seeds.random("shortcutEqualsTheLiteralForwardOnRealStates");
    PmaHead head = PmaHeadTest.randomHead(random, states.dim(), 8);
    double worst = 0;
    for (int i = 0; i < SENTENCES.size(); i++) {
      float[] naive = PmaReference.forward(head, states.sequence(i), states.mask()[i]);
      worst = Math.max(worst, Seeds.maxAbsDiff(head.pool(states, i), naive));
    }
    System.out.println("PMA shortcut vs literal forward on MiniLM states: max abs diff " + worst);
    assertThat(worst).isLessThanOrEqualTo(1e-5);
  }

  @Test
  void theDefaultEmbedderStillMeanPools() {
    assertThat(embedder.info().pooling()).isEqualTo("mean");
    assertThat(embedder.pooling()).isSameAs(MeanPooling.INSTANCE);
    List<float[]> vectors = embedder.embed(SENTENCES.subList(0, 5));
    for (int i = 0; i < 5; i++) {
      assertThat(Seeds.maxAbsDiff(vectors.get(i), states.meanPooled(i))).isLessThan(1e-4);
    }
  }

  @Test
  void anEmbedderPoolsWithTheStrategyItIsGiven() {
    EmbedderConfig config = EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU);
    try (Embedder cls = Embedder.create(config, ClsPooling.INSTANCE)) {
      assertThat(cls.info().pooling()).isEqualTo("cls");
      float[] v = cls.embed(SENTENCES.get(2));
      assertThat(Seeds.cosine(v, v)).isCloseTo(1.0, within(1e-6));
      assertThat(Seeds.maxAbsDiff(v, ClsPooling.INSTANCE.pool(states, 2))).isLessThan(1e-4);
    }
    PmaHead pma = PmaHead.meanInit(384, 8, 5);
    try (Embedder withPma = Embedder.create(config, pma)) {
      assertThat(withPma.info().pooling()).isEqualTo("pma");
      assertThat(Seeds.maxAbsDiff(withPma.embed(SENTENCES.get(3)), pma.pool(states, 3))).isLessThan(1e-4);
    }
    assertThatThrownBy(() -> Embedder.create(config, PmaHead.meanInit(16, 4, 1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension 16");
  }
}
