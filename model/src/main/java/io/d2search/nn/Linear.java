package io.d2search.nn;

import java.util.Arrays;
import java.util.Objects;
import org.apache.lucene.util.VectorUtil;

/**
 * A fully connected layer in the PyTorch convention, {@code y = x·Wᵀ + b} with {@code W ∈ R^{out×in}} and
 * {@code b ∈ R^{out}}: the layout of {@code torch.nn.Linear} weights and of the safetensors files that hold them.
 *
 * <p>Immutable (arrays are copied in and out) and therefore thread-safe. The fast dot products use Lucene's
 * {@link VectorUtil}, which is SIMD when the JVM runs with {@code --add-modules jdk.incubator.vector}; the exact ones
 * sum in order, in double.
 */
public final class Linear {
  private final int out;
  private final int in;
  private final float[][] weight; // [out][in], one array per row so VectorUtil can take it whole
  private final float[] bias; // [out]

  private Linear(float[][] weight, float[] bias, int out, int in) {
    this.weight = weight;
    this.bias = bias;
    this.out = out;
    this.in = in;
  }

  /**
   * @param out number of outputs, ≥ 1
   * @param in number of inputs, ≥ 1
   * @param weight row-major {@code [out][in]}, length {@code out·in}; copied
   * @param bias length {@code out}; copied
   * @throws IllegalArgumentException if a length does not match the shape
   */
  public static Linear of(int out, int in, float[] weight, float[] bias) {
    Objects.requireNonNull(weight, "weight");
    Objects.requireNonNull(bias, "bias");
    if (out < 1 || in < 1) {
      throw new IllegalArgumentException("Linear shape must be positive: out " + out + ", in " + in);
    }
    if (weight.length != (long) out * in) {
      throw new IllegalArgumentException(
          "weight has " + weight.length + " values, expected out·in = " + out + "·" + in);
    }
    if (bias.length != out) {
      throw new IllegalArgumentException("bias has " + bias.length + " values, expected out = " + out);
    }
    float[][] rows = new float[out][];
    for (int r = 0; r < out; r++) {
      rows[r] = Arrays.copyOfRange(weight, r * in, (r + 1) * in);
    }
    return new Linear(rows, bias.clone(), out, in);
  }

  /** All weights and biases zero: the layer outputs zeros. */
  public static Linear zeros(int out, int in) {
    return of(out, in, new float[out * in], new float[out]);
  }

  /** {@code W = I}, {@code b = 0}: the layer is the identity on {@code R^d}. */
  public static Linear identity(int d) {
    float[] w = new float[d * d];
    for (int i = 0; i < d; i++) {
      w[i * d + i] = 1f;
    }
    return of(d, d, w, new float[d]);
  }

  /** Number of outputs (rows of W). */
  public int out() {
    return out;
  }

  /** Number of inputs (columns of W). */
  public int in() {
    return in;
  }

  /** {@code W[row][col]}. */
  public float weight(int row, int col) {
    return weight[row][col];
  }

  /** Row {@code r} of W itself, not a copy: for this package's {@link MatMul} kernels, which only read it. */
  float[] row(int r) {
    return weight[r];
  }

  /** {@code b[row]}. */
  public float bias(int row) {
    return bias[row];
  }

  /** A copy of W, row-major {@code [out][in]}. */
  public float[] weightRowMajor() {
    float[] w = new float[out * in];
    for (int r = 0; r < out; r++) {
      System.arraycopy(weight[r], 0, w, r * in, in);
    }
    return w;
  }

  /** A copy of b, length {@code out}. */
  public float[] biasCopy() {
    return bias.clone();
  }

  /** The columns {@code [from, from + width)} of W as a new layer with zero bias; used to split a concatenated input. */
  public Linear columns(int from, int width) {
    if (from < 0 || width < 1 || from + width > in) {
      throw new IllegalArgumentException("columns [" + from + ", " + (from + width) + ") outside [0, " + in + ")");
    }
    float[][] rows = new float[out][];
    for (int r = 0; r < out; r++) {
      rows[r] = Arrays.copyOfRange(weight[r], from, from + width);
    }
    return new Linear(rows, new float[out], out, width);
  }

  /**
   * {@code W[row]·x} without the bias, SIMD. Fast, but the summation order is the vector unit's, and can change while
   * the JIT compiles the method: equal inputs may differ in the last bits between calls. For scoring, not for
   * values that must be reproducible bit for bit (use {@link #dotRowExact}).
   *
   * @throws IllegalArgumentException if {@code x.length != in}
   */
  public float dotRow(int row, float[] x) {
    return VectorUtil.dotProduct(weight[row], x);
  }

  /**
   * {@code W[row]·x} without the bias, summed in index order in double precision: slower than {@link #dotRow}, but
   * every call gives the same bits.
   *
   * @throws IllegalArgumentException if {@code x.length != in}
   */
  public double dotRowExact(int row, double[] x) {
    checkLength(x.length);
    float[] w = weight[row];
    double sum = 0;
    for (int c = 0; c < in; c++) {
      sum += w[c] * x[c];
    }
    return sum;
  }

  /**
   * {@code x·Wᵀ + b} into {@code y} (length {@code out}), which may not alias {@code x}; returns {@code y}. SIMD, with
   * {@link #dotRow}'s caveat on the last bits.
   */
  public float[] apply(float[] x, float[] y) {
    checkLength(x.length);
    for (int r = 0; r < out; r++) {
      y[r] = VectorUtil.dotProduct(weight[r], x) + bias[r];
    }
    return y;
  }

  /** {@code x·Wᵀ + b} as a new array of length {@code out}. */
  public float[] apply(float[] x) {
    return apply(x, new float[out]);
  }

  private void checkLength(int length) {
    if (length != in) {
      throw new IllegalArgumentException("input has length " + length + ", layer expects " + in);
    }
  }
}
