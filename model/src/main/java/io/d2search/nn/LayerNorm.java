package io.d2search.nn;

import java.util.Arrays;
import java.util.Objects;

/**
 * {@code torch.nn.LayerNorm(d)} over one vector: {@code y = (x − mean(x)) / sqrt(var(x) + eps) · γ + β} with the
 * biased variance and {@code eps = 1e-5}, as PyTorch computes it.
 *
 * <p>Immutable (arrays are copied in and out) and therefore thread-safe.
 */
public final class LayerNorm {
  /** PyTorch's default, fixed by docs/d2llm-heads.md. */
  public static final double EPS = 1e-5;

  private final float[] gamma;
  private final float[] beta;

  /**
   * @param gamma scale, length d ≥ 1; copied
   * @param beta shift, length d; copied
   */
  public LayerNorm(float[] gamma, float[] beta) {
    Objects.requireNonNull(gamma, "gamma");
    Objects.requireNonNull(beta, "beta");
    if (gamma.length == 0 || gamma.length != beta.length) {
      throw new IllegalArgumentException(
          "gamma and beta must have the same positive length: " + gamma.length + " vs " + beta.length);
    }
    this.gamma = gamma.clone();
    this.beta = beta.clone();
  }

  /** γ = 1, β = 0: PyTorch's initialisation. */
  public static LayerNorm identity(int d) {
    float[] ones = new float[d];
    Arrays.fill(ones, 1f);
    return new LayerNorm(ones, new float[d]);
  }

  public int dimension() {
    return gamma.length;
  }

  /** A copy of γ. */
  public float[] gamma() {
    return gamma.clone();
  }

  /** A copy of β. */
  public float[] beta() {
    return beta.clone();
  }

  /** Normalises {@code x} (length d) in place and returns it. */
  public float[] applyInPlace(float[] x) {
    if (x.length != gamma.length) {
      throw new IllegalArgumentException("input has length " + x.length + ", LayerNorm expects " + gamma.length);
    }
    double mean = 0;
    for (float v : x) {
      mean += v;
    }
    mean /= x.length;
    double var = 0;
    for (float v : x) {
      double c = v - mean;
      var += c * c;
    }
    var /= x.length;
    double inv = 1.0 / Math.sqrt(var + EPS);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) ((x[i] - mean) * inv * gamma[i] + beta[i]);
    }
    return x;
  }
}
