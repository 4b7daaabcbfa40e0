package io.d2search.index;

import java.util.List;

/** Checks on the unit vectors that {@code DOT_PRODUCT} similarity requires. */
final class UnitVectors {
  /** Allowed |‖v‖² − 1|: floats that went through Avro and a model's normalisation are not exact. */
  static final double NORM_TOLERANCE = 1e-3;

  private UnitVectors() {}

  /** A new array with the values of {@code vector}, checked. */
  static float[] copyOf(List<Float> vector, String what) {
    float[] copy = new float[vector.size()];
    for (int i = 0; i < copy.length; i++) {
      Float x = vector.get(i);
      if (x == null) {
        throw new IllegalArgumentException(what + " has a null component at " + i);
      }
      copy[i] = x;
    }
    check(copy, what);
    return copy;
  }

  /** A checked copy of {@code vector}, so later changes by the caller cannot reach the index. */
  static float[] copyOf(float[] vector, String what) {
    float[] copy = vector.clone();
    check(copy, what);
    return copy;
  }

  private static void check(float[] v, String what) {
    if (v.length == 0) {
      throw new IllegalArgumentException(what + " is empty");
    }
    double sumSquares = 0;
    for (int i = 0; i < v.length; i++) {
      if (!Float.isFinite(v[i])) {
        throw new IllegalArgumentException(what + " has a non-finite component at " + i + ": " + v[i]);
      }
      sumSquares += (double) v[i] * v[i];
    }
    if (Math.abs(sumSquares - 1) > NORM_TOLERANCE) {
      throw new IllegalArgumentException(
          what + " is not unit length (squared norm " + sumSquares + "); DOT_PRODUCT needs normalised vectors");
    }
  }
}
