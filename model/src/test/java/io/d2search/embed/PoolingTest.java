package io.d2search.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Mean and CLS pooling on hand-made token states. */
class PoolingTest {
  // batch 2, 3 tokens, dim 2; the second sequence has one padding token.
  private final TokenStates states = new TokenStates(
      new float[] {3, 4, 1, 1, 5, 5, /* seq 1 */ 0, 2, 2, 0, 9, 9}, 2, 3, 2, new long[][] {{1, 1, 1}, {1, 1, 0}});

  @Test
  void meanAveragesRealTokensAndNormalises() {
    float[] v = MeanPooling.INSTANCE.pool(states, 1);
    assertThat(v[0]).isCloseTo((float) Math.sqrt(0.5), within(1e-6f));
    assertThat(v[1]).isCloseTo((float) Math.sqrt(0.5), within(1e-6f));
    assertThat(MeanPooling.INSTANCE.pool(states, 0)).containsExactly(states.meanPooled(0));
    assertThat(MeanPooling.INSTANCE.name()).isEqualTo("mean");
  }

  @Test
  void clsTakesTheFirstTokenAndNormalises() {
    assertThat(ClsPooling.INSTANCE.pool(states, 0)).containsExactly(0.6f, 0.8f);
    assertThat(ClsPooling.INSTANCE.pool(states, 1)).containsExactly(0f, 1f);
    assertThat(ClsPooling.INSTANCE.name()).isEqualTo("cls");
  }

  @Test
  void clsRefusesALeftPaddedSequence() {
    TokenStates leftPadded = new TokenStates(new float[] {1, 2, 3, 4}, 1, 2, 2, new long[][] {{0, 1}});
    assertThatThrownBy(() -> ClsPooling.INSTANCE.pool(leftPadded, 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
