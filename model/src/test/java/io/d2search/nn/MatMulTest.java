package io.d2search.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.testing.Seeds;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MatMulTest {

  /** Shapes around the kernels' blocks: rows and inputs not multiples of four, widths not multiples of a register. */
  @Test
  void everyKernelAccumulatesTheProductsOfEveryRowWithEveryInput() {
    Random random = Seeds.random("everyKernelAccumulatesTheProductsOfEveryRowWithEveryInput");
    for (int round = 0; round < 40; round++) {
      int out = 1 + random.nextInt(round < 20 ? 9 : 70);
      int in = 1 + random.nextInt(round < 20 ? 40 : 400);
      int n = random.nextInt(11);
      Linear layer = Linear.of(out, in, Seeds.gaussian(random, out * in, 1), new float[out]);
      float[][] x = new float[n + random.nextInt(3)][]; // rows past n are never read
      for (int b = 0; b < x.length; b++) {
        x[b] = Seeds.gaussian(random, in, 1);
      }
      float[][] start = new float[x.length][];
      for (int b = 0; b < x.length; b++) {
        start[b] = Seeds.gaussian(random, out + random.nextInt(3), 1);
      }
      for (MatMul kernel : new MatMul[] {MatMul.scalar(), MatMul.dotProducts(), MatMul.panama(), MatMul.best()}) {
        float[][] y = new float[x.length][];
        for (int b = 0; b < x.length; b++) {
          y[b] = start[b].clone();
        }
        kernel.accumulate(layer, x, n, y);
        for (int b = 0; b < x.length; b++) {
          for (int r = 0; r < y[b].length; r++) {
            if (b >= n || r >= out) {
              assertThat(y[b][r]).as("%s leaves y[%d][%d] alone", kernel.name(), b, r).isEqualTo(start[b][r]);
              continue;
            }
            double expected = start[b][r];
            for (int i = 0; i < in; i++) {
              expected += (double) layer.weight(r, i) * x[b][i];
            }
            assertThat((double) y[b][r]).as("%s out %d in %d n %d: y[%d][%d]", kernel.name(), out, in, n, b, r)
                .isCloseTo(expected, within(1e-4 * Math.sqrt(in) + 1e-5 * Math.abs(expected)));
          }
        }
      }
    }
  }

  @Test
  void theBestKernelIsPanamasWhereTheJvmHasTheVectorApi() {
    // The build's test JVMs run with --add-modules jdk.incubator.vector, as every d2search JVM does.
    assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
    assertThat(MatMul.best().name()).isEqualTo(MatMul.panama().name()).isEqualTo("panama-4x4");
  }
}
