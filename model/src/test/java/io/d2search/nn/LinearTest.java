package io.d2search.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LinearTest {

  @Test
  void appliesXTimesWTransposedPlusB() {
    // W = [[1, 2, 3], [-1, 0, 1]] (out 2, in 3), b = [0.5, -1]
    Linear layer = Linear.of(2, 3, new float[] {1, 2, 3, -1, 0, 1}, new float[] {0.5f, -1});
    assertThat(layer.apply(new float[] {1, 1, 2})).containsExactly(9.5f, 0f);
    assertThat(layer.weight(1, 2)).isEqualTo(1f);
    assertThat(layer.bias(0)).isEqualTo(0.5f);
    assertThat(layer.weightRowMajor()).containsExactly(1, 2, 3, -1, 0, 1);
    assertThat(layer.dotRowExact(0, new double[] {1, 1, 2})).isEqualTo(9.0);
    assertThat(layer.dotRow(1, new float[] {1, 1, 2})).isEqualTo(1f);
    Linear right = layer.columns(1, 2);
    assertThat(right.apply(new float[] {1, 2})).containsExactly(8f, 2f); // columns carry no bias
  }

  @Test
  void identityAndZeros() {
    assertThat(Linear.identity(3).apply(new float[] {1, -2, 3})).containsExactly(1, -2, 3);
    assertThat(Linear.zeros(2, 3).apply(new float[] {1, -2, 3})).containsExactly(0, 0);
  }

  @Test
  void isImmutableAndChecksShapes() {
    float[] w = {1, 2};
    float[] b = {0};
    Linear layer = Linear.of(1, 2, w, b);
    w[0] = 100;
    b[0] = 100;
    layer.weightRowMajor()[1] = 100;
    layer.biasCopy()[0] = 100;
    assertThat(layer.apply(new float[] {1, 1})).containsExactly(3f);
    assertThatThrownBy(() -> Linear.of(2, 2, new float[3], new float[2])).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Linear.of(2, 2, new float[4], new float[1])).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> layer.apply(new float[3])).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void layerNormMatchesPyTorchsFormula() {
    LayerNorm norm = new LayerNorm(new float[] {1, 2, 1, 1}, new float[] {0, 0, 1, 0});
    float[] y = norm.applyInPlace(new float[] {1, 2, 3, 4});
    // mean 2.5, biased variance 1.25
    double inv = 1 / Math.sqrt(1.25 + 1e-5);
    assertThat(y[0]).isCloseTo((float) (-1.5 * inv), within(1e-6f));
    assertThat(y[1]).isCloseTo((float) (2 * -0.5 * inv), within(1e-6f));
    assertThat(y[2]).isCloseTo((float) (0.5 * inv + 1), within(1e-6f));
    assertThat(y[3]).isCloseTo((float) (1.5 * inv), within(1e-6f));
    assertThat(LayerNorm.identity(4).applyInPlace(new float[] {2, 2, 2, 2})).containsOnly(0f);
    assertThatThrownBy(() -> norm.applyInPlace(new float[3])).isInstanceOf(IllegalArgumentException.class);
  }
}
