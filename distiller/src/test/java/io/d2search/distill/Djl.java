package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/** Test helpers: one engine per JVM on one thread (the build machine's cores are shared), seeded random arrays. */
final class Djl {
  private Djl() {}

  static NDManager manager() {
    DjlRuntime.start(new DjlRuntime.Settings(null, 1, 1));
    return NDManager.newBaseManager();
  }

  static NDArray gaussian(NDManager m, Random r, DataType type, double std, long... shape) {
    Shape s = new Shape(shape);
    double[] v = new double[Math.toIntExact(s.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextGaussian() * std;
    }
    return m.create(v, s).toType(type, false);
  }

  static float[] gaussian(Random r, double std, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * std);
    }
    return v;
  }
}
