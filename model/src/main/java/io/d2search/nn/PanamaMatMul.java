package io.d2search.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link MatMul} on the Panama Vector API, register-blocked four weight rows by four inputs: per step it loads four
 * row vectors and four input vectors and does sixteen fused multiply-adds into sixteen accumulators (24 vector
 * registers; AVX-512 and AVX2 machines have 32 and 16, the JIT spills a few on the latter). A one-dot-at-a-time
 * kernel loads two vectors per multiply-add and is bound by those loads; this one reuses each load four times.
 * Rows and inputs left over from the blocks of four, and the tail of each vector shorter than a SIMD register,
 * are summed by the narrower paths below.
 */
final class PanamaMatMul implements MatMul {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

  @Override
  public void accumulate(Linear layer, float[][] x, int n, float[][] y) {
    int out = layer.out();
    int in = layer.in();
    int bound = SPECIES.loopBound(in);
    int r = 0;
    for (; r + 4 <= out; r += 4) {
      float[] w0 = layer.row(r);
      float[] w1 = layer.row(r + 1);
      float[] w2 = layer.row(r + 2);
      float[] w3 = layer.row(r + 3);
      int b = 0;
      for (; b + 4 <= n; b += 4) {
        block4x4(w0, w1, w2, w3, x[b], x[b + 1], x[b + 2], x[b + 3], bound, in, y, r, b);
      }
      for (; b < n; b++) {
        float[] v = x[b];
        y[b][r] += dot(w0, v, bound, in);
        y[b][r + 1] += dot(w1, v, bound, in);
        y[b][r + 2] += dot(w2, v, bound, in);
        y[b][r + 3] += dot(w3, v, bound, in);
      }
    }
    for (; r < out; r++) {
      float[] w = layer.row(r);
      for (int b = 0; b < n; b++) {
        y[b][r] += dot(w, x[b], bound, in);
      }
    }
  }

  private static void block4x4(float[] w0, float[] w1, float[] w2, float[] w3, float[] x0, float[] x1, float[] x2,
      float[] x3, int bound, int in, float[][] y, int r, int b) {
    FloatVector a00 = FloatVector.zero(SPECIES);
    FloatVector a01 = a00;
    FloatVector a02 = a00;
    FloatVector a03 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a12 = a00;
    FloatVector a13 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a22 = a00;
    FloatVector a23 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    FloatVector a32 = a00;
    FloatVector a33 = a00;
    for (int i = 0; i < bound; i += SPECIES.length()) {
      FloatVector v0 = FloatVector.fromArray(SPECIES, x0, i);
      FloatVector v1 = FloatVector.fromArray(SPECIES, x1, i);
      FloatVector v2 = FloatVector.fromArray(SPECIES, x2, i);
      FloatVector v3 = FloatVector.fromArray(SPECIES, x3, i);
      FloatVector u = FloatVector.fromArray(SPECIES, w0, i);
      a00 = u.fma(v0, a00);
      a01 = u.fma(v1, a01);
      a02 = u.fma(v2, a02);
      a03 = u.fma(v3, a03);
      u = FloatVector.fromArray(SPECIES, w1, i);
      a10 = u.fma(v0, a10);
      a11 = u.fma(v1, a11);
      a12 = u.fma(v2, a12);
      a13 = u.fma(v3, a13);
      u = FloatVector.fromArray(SPECIES, w2, i);
      a20 = u.fma(v0, a20);
      a21 = u.fma(v1, a21);
      a22 = u.fma(v2, a22);
      a23 = u.fma(v3, a23);
      u = FloatVector.fromArray(SPECIES, w3, i);
      a30 = u.fma(v0, a30);
      a31 = u.fma(v1, a31);
      a32 = u.fma(v2, a32);
      a33 = u.fma(v3, a33);
    }
    float[] y0 = y[b];
    float[] y1 = y[b + 1];
    float[] y2 = y[b + 2];
    float[] y3 = y[b + 3];
    y0[r] += sum(a00) + tail(w0, x0, bound, in);
    y1[r] += sum(a01) + tail(w0, x1, bound, in);
    y2[r] += sum(a02) + tail(w0, x2, bound, in);
    y3[r] += sum(a03) + tail(w0, x3, bound, in);
    y0[r + 1] += sum(a10) + tail(w1, x0, bound, in);
    y1[r + 1] += sum(a11) + tail(w1, x1, bound, in);
    y2[r + 1] += sum(a12) + tail(w1, x2, bound, in);
    y3[r + 1] += sum(a13) + tail(w1, x3, bound, in);
    y0[r + 2] += sum(a20) + tail(w2, x0, bound, in);
    y1[r + 2] += sum(a21) + tail(w2, x1, bound, in);
    y2[r + 2] += sum(a22) + tail(w2, x2, bound, in);
    y3[r + 2] += sum(a23) + tail(w2, x3, bound, in);
    y0[r + 3] += sum(a30) + tail(w3, x0, bound, in);
    y1[r + 3] += sum(a31) + tail(w3, x1, bound, in);
    y2[r + 3] += sum(a32) + tail(w3, x2, bound, in);
    y3[r + 3] += sum(a33) + tail(w3, x3, bound, in);
  }

  private static float sum(FloatVector v) {
    return v.reduceLanes(VectorOperators.ADD);
  }

  private static float dot(float[] w, float[] v, int bound, int in) {
    FloatVector acc = FloatVector.zero(SPECIES);
    for (int i = 0; i < bound; i += SPECIES.length()) {
      acc = FloatVector.fromArray(SPECIES, w, i).fma(FloatVector.fromArray(SPECIES, v, i), acc);
    }
    return sum(acc) + tail(w, v, bound, in);
  }

  private static float tail(float[] w, float[] v, int from, int in) {
    float s = 0f;
    for (int i = from; i < in; i++) {
      s += w[i] * v[i];
    }
    return s;
  }

  @Override
  public String name() {
    return "panama-4x4";
  }
}
