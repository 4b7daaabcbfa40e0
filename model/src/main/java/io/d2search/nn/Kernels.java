package io.d2search.nn;

import org.apache.lucene.util.VectorUtil;

/** The {@link MatMul} implementations; the Panama one is loaded only where its module is present. */
final class Kernels {
  static final MatMul SCALAR = new Scalar();
  static final MatMul DOT_PRODUCTS = new DotProducts();
  static final MatMul PANAMA = loadPanama();

  private Kernels() {}

  private static MatMul loadPanama() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return null;
    }
    try {
      // By name: this class must load on a JVM without the module, where PanamaMatMul cannot.
      return (MatMul) Class.forName("io.d2search.nn.PanamaMatMul").getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      return null;
    }
  }

  private static final class Scalar implements MatMul {
    @Override
    public void accumulate(Linear layer, float[][] x, int n, float[][] y) {
      int in = layer.in();
      for (int r = 0; r < layer.out(); r++) {
        float[] w = layer.row(r);
        for (int b = 0; b < n; b++) {
          float[] v = x[b];
          float sum = 0f;
          for (int i = 0; i < in; i++) {
            sum += w[i] * v[i];
          }
          y[b][r] += sum;
        }
      }
    }

    @Override
    public String name() {
      return "scalar";
    }
  }

  private static final class DotProducts implements MatMul {
    @Override
    public void accumulate(Linear layer, float[][] x, int n, float[][] y) {
      for (int r = 0; r < layer.out(); r++) {
        float[] w = layer.row(r);
        for (int b = 0; b < n; b++) {
          y[b][r] += VectorUtil.dotProduct(w, x[b]);
        }
      }
    }

    @Override
    public String name() {
      return "lucene-dot";
    }
  }
}
