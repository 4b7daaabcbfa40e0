package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Constants in the graph survive a garbage collection between forward and backward (the DJL 0.36 use-after-free
 * that {@link Scalars} works around): collect, scribble NaN over freshly allocated direct memory, then backward.
 */
class ScalarsTest {
  private static NDManager manager;

  @BeforeAll
  static void start() {
    manager = Djl.manager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  private static float[] gradientAfterGc(Function<NDArray, NDArray> f) throws InterruptedException {
    try (NDManager m = manager.newSubManager()) {
      NDArray x = Scalars.owned(m, new float[] {1, 2, 3, 4}, new Shape(4));
      x.setRequiresGradient(true);
      try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
        NDArray y = f.apply(x).sum();
        for (int i = 0; i < 3; i++) {
          System.gc();
          Thread.sleep(20);
        }
        List<ByteBuffer> junk = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          ByteBuffer b = ByteBuffer.allocateDirect(64);
          while (b.hasRemaining()) {
            b.put((byte) 0xff); // 0xffffffff is a NaN float
          }
          junk.add(b);
        }
        c.backward(y);
        assertThat(junk).hasSize(64);
      }
      return x.getGradient().toFloatArray();
    }
  }

  @Test
  void multiplyAndDivideByConstantsDifferentiateAfterGc() throws InterruptedException {
    assertThat(gradientAfterGc(x -> Scalars.mul(x, 3))).containsExactly(3, 3, 3, 3);
    assertThat(gradientAfterGc(x -> Scalars.div(x, 4))).containsExactly(0.25f, 0.25f, 0.25f, 0.25f);
    assertThat(gradientAfterGc(x -> Scalars.div(Scalars.mul(x.square(), 0.5), 2)))
        .containsExactly(0.5f, 1f, 1.5f, 2f);
  }

  @Test
  void ownedArraysCopyTheirData() {
    float[] data = {1, 2, 3};
    try (NDManager m = manager.newSubManager()) {
      NDArray a = Scalars.owned(m, data, new Shape(3));
      data[0] = 42;
      assertThat(a.toFloatArray()).containsExactly(1, 2, 3);
      assertThat(Scalars.of(a, 0.1).getFloat()).isEqualTo(0.1f);
    }
  }
}
