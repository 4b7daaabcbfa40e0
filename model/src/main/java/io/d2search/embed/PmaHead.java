package io.d2search.embed;

import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;
import java.util.Objects;
import java.util.Random;

/**
 * Pooling by Multihead Attention with one learned seed (Set Transformer's PMA), the serving forward of
 * docs/d2llm-heads.md:
 *
 * <pre>
 * Q = S·Wqᵀ + bq,  K = X·Wkᵀ + bk,  V = X·Wvᵀ + bv                 S ∈ R^{1×d}, X ∈ R^{T×d}
 * A_j = Σ_t softmax_t(Q_j·K_{t,j} / sqrt(d)) · V_{t,j}             per head j, over real tokens only
 * O = LN0(S + concat_j A_j);  O = LN1(O + ReLU(O·Woᵀ + bo));  pma(X, m) = O / ‖O‖₂
 * </pre>
 *
 * <p>Computed with the doc's exact shortcut: with one seed, {@code Q} is a constant, so the score of token t in
 * head j is {@code X_t·u_j + c_j} with {@code u_j = Wk_jᵀ·Q_j / sqrt(d)} precomputed here; {@code c_j} cancels in
 * the softmax, and because the weights sum to one {@code A_j = (Σ_t a_t X_t)·Wv_jᵀ + bv_j}. Per head that is one
 * dot product per token, one weighted sum and one {@code dh×d} projection; {@code K} and {@code V} are never formed.
 *
 * <p>Scalar loops in double precision, in a fixed order: the same token states always give the same bits (it runs
 * once per text, after the transformer, so SIMD would buy little).
 *
 * <p>Immutable after construction (every array is copied in) and thread-safe.
 */
public final class PmaHead implements Pooling {
  /** Standard deviation of the seed in {@link #meanInit}: small enough to keep mean pooling's direction. */
  public static final double MEAN_INIT_SEED_STD = 0.01;

  private final int dimension;
  private final int heads;
  private final float[] seed; // S, [d]
  private final Linear fcQ;
  private final Linear fcK;
  private final Linear fcV;
  private final Linear fcO;
  private final LayerNorm ln0;
  private final LayerNorm ln1;
  private final double[][] u; // [heads][d]: per-head score direction Wk_jᵀ·Q_j / sqrt(d)

  /**
   * @param heads number of attention heads h, ≥ 1, dividing d
   * @param seed the learned seed S, length d; copied
   * @param fcQ query projection, d×d
   * @param fcK key projection, d×d
   * @param fcV value projection, d×d
   * @param fcO output projection of the residual MLP, d×d
   * @param ln0 LayerNorm after attention, dimension d
   * @param ln1 LayerNorm after the MLP, dimension d
   * @throws IllegalArgumentException if a shape does not match d, or h does not divide d
   */
  public PmaHead(int heads, float[] seed, Linear fcQ, Linear fcK, Linear fcV, Linear fcO, LayerNorm ln0,
      LayerNorm ln1) {
    Objects.requireNonNull(seed, "seed");
    this.dimension = seed.length;
    if (heads < 1 || dimension == 0 || dimension % heads != 0) {
      throw new IllegalArgumentException("heads (" + heads + ") must divide the dimension (" + dimension + ")");
    }
    this.heads = heads;
    this.seed = seed.clone();
    this.fcQ = square("fc_q", fcQ);
    this.fcK = square("fc_k", fcK);
    this.fcV = square("fc_v", fcV);
    this.fcO = square("fc_o", fcO);
    this.ln0 = norm("ln0", ln0);
    this.ln1 = norm("ln1", ln1);
    this.u = scoreDirections();
  }

  /**
   * The "mean" initialisation of docs/d2llm-heads.md (model version 0): {@code Wk = 0, bk = 0} (uniform attention
   * over real tokens), {@code Wq = Wv = I}, {@code bq = bv = 0}, {@code Wo = 0, bo = 0.01} (a positive bias keeps
   * the ReLU live so fc_o can train; LN1 removes the constant shift exactly), LayerNorms γ = 1, β = 0,
   * and {@code S ~ N(0, 0.01²)} from {@code new Random(seed).nextGaussian()}. The result is
   * {@code normalize(LN(S + mean_t X_t))}, which keeps mean pooling's direction up to LayerNorm's centring.
   *
   * @param d dimension of the token states
   * @param heads number of heads, dividing d
   * @param seed random seed of S; the same seed always gives the same head (java.util.Random is specified)
   */
  /** fc_o bias of the mean initialisation: with zero weights, a zero bias would leave ReLU's gradient 0 forever. */
  static final float MEAN_INIT_OUTPUT_BIAS = 0.01f;

  public static PmaHead meanInit(int d, int heads, long seed) {
    Random random = new Random(seed);
    float[] s = new float[d];
    for (int i = 0; i < d; i++) {
      s[i] = (float) (random.nextGaussian() * MEAN_INIT_SEED_STD);
    }
    float[] outputBias = new float[d];
    java.util.Arrays.fill(outputBias, MEAN_INIT_OUTPUT_BIAS);
    return new PmaHead(heads, s, Linear.identity(d), Linear.zeros(d, d), Linear.identity(d),
        Linear.of(d, d, new float[d * d], outputBias), LayerNorm.identity(d), LayerNorm.identity(d));
  }

  private Linear square(String name, Linear layer) {
    Objects.requireNonNull(layer, name);
    if (layer.out() != dimension || layer.in() != dimension) {
      throw new IllegalArgumentException(
          name + " must be " + dimension + "×" + dimension + ", is " + layer.out() + "×" + layer.in());
    }
    return layer;
  }

  private LayerNorm norm(String name, LayerNorm layer) {
    Objects.requireNonNull(layer, name);
    if (layer.dimension() != dimension) {
      throw new IllegalArgumentException(name + " must have dimension " + dimension + ", has " + layer.dimension());
    }
    return layer;
  }

  private double[][] scoreDirections() {
    double[] s = new double[dimension];
    for (int i = 0; i < dimension; i++) {
      s[i] = seed[i];
    }
    double[] q = new double[dimension];
    for (int r = 0; r < dimension; r++) {
      q[r] = fcQ.dotRowExact(r, s) + fcQ.bias(r);
    }
    int dh = dimension / heads;
    // Set Transformer scales by sqrt(dim_V) = sqrt(d), not sqrt(dh).
    double scale = 1.0 / Math.sqrt(dimension);
    double[][] dirs = new double[heads][dimension];
    for (int j = 0; j < heads; j++) {
      for (int r = j * dh; r < (j + 1) * dh; r++) {
        double qr = q[r] * scale;
        for (int i = 0; i < dimension; i++) {
          dirs[j][i] += fcK.weight(r, i) * qr;
        }
      }
    }
    return dirs;
  }

  @Override
  public float[] pool(TokenStates states, int sequence) {
    if (states.dim() != dimension) {
      throw new IllegalArgumentException("token states have dimension " + states.dim() + ", PMA expects " + dimension);
    }
    return forward(states.data(), sequence * states.tokens() * dimension, states.tokens(), states.mask()[sequence]);
  }

  /**
   * Pools one sequence given as rows.
   *
   * @param states token states {@code [tokens][d]}
   * @param mask attention mask, length {@code tokens}, 1 for real tokens; must have a 1 somewhere
   * @return a new unit vector of length d
   */
  public float[] pool(float[][] states, long[] mask) {
    if (states.length != mask.length) {
      throw new IllegalArgumentException(states.length + " token states but a mask of " + mask.length);
    }
    float[] flat = new float[states.length * dimension];
    for (int t = 0; t < states.length; t++) {
      if (states[t].length != dimension) {
        throw new IllegalArgumentException("token " + t + " has dimension " + states[t].length + ", expected " + dimension);
      }
      System.arraycopy(states[t], 0, flat, t * dimension, dimension);
    }
    return forward(flat, 0, states.length, mask);
  }

  /** The forward over tokens {@code data[base + t·d … base + t·d + d)}, {@code t < tokens}, with mask {@code mask}. */
  private float[] forward(float[] data, int base, int tokens, long[] mask) {
    int d = dimension;
    int[] real = new int[tokens];
    int n = 0;
    for (int t = 0; t < tokens; t++) {
      if (mask[t] != 0) {
        real[n++] = base + t * d;
      }
    }
    if (n == 0) {
      throw new IllegalArgumentException("no real token to pool (mask is all zero)");
    }
    // Attention weights a[j][k] over the real tokens, per head.
    double[][] a = new double[heads][n];
    for (int k = 0; k < n; k++) {
      int off = real[k];
      for (int j = 0; j < heads; j++) {
        double[] uj = u[j];
        double s = 0;
        for (int i = 0; i < d; i++) {
          s += data[off + i] * uj[i];
        }
        a[j][k] = s;
      }
    }
    for (double[] aj : a) {
      softmaxInPlace(aj);
    }
    // Per head, the attention-weighted token mean: xbar[j] = Σ_k a[j][k] X_k.
    double[][] xbar = new double[heads][d];
    for (int k = 0; k < n; k++) {
      int off = real[k];
      for (int j = 0; j < heads; j++) {
        double w = a[j][k];
        double[] xj = xbar[j];
        for (int i = 0; i < d; i++) {
          xj[i] += w * data[off + i];
        }
      }
    }
    // O = S + concat_j (xbar_j·Wv_jᵀ + bv_j)
    int dh = d / heads;
    float[] o = new float[d];
    for (int j = 0; j < heads; j++) {
      for (int r = j * dh; r < (j + 1) * dh; r++) {
        o[r] = (float) (seed[r] + fcV.dotRowExact(r, xbar[j]) + fcV.bias(r));
      }
    }
    ln0.applyInPlace(o);
    double[] ln = new double[d];
    for (int i = 0; i < d; i++) {
      ln[i] = o[i];
    }
    for (int r = 0; r < d; r++) {
      o[r] += (float) Math.max(0, fcO.dotRowExact(r, ln) + fcO.bias(r));
    }
    ln1.applyInPlace(o);
    return MeanPooling.normalize(o);
  }

  private static void softmaxInPlace(double[] s) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : s) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (int k = 0; k < s.length; k++) {
      s[k] = Math.exp(s[k] - max);
      sum += s[k];
    }
    for (int k = 0; k < s.length; k++) {
      s[k] /= sum;
    }
  }

  @Override
  public String name() {
    return "pma";
  }

  /** Dimension d of the token states and of the output. */
  public int dimension() {
    return dimension;
  }

  /** Number of heads h. */
  public int heads() {
    return heads;
  }

  /** A copy of the seed S, length d. */
  public float[] seed() {
    return seed.clone();
  }

  public Linear fcQ() {
    return fcQ;
  }

  public Linear fcK() {
    return fcK;
  }

  public Linear fcV() {
    return fcV;
  }

  public Linear fcO() {
    return fcO;
  }

  public LayerNorm ln0() {
    return ln0;
  }

  public LayerNorm ln1() {
    return ln1;
  }

  @Override
  public String toString() {
    return "PmaHead[d=" + dimension + ", heads=" + heads + "]";
  }
}
