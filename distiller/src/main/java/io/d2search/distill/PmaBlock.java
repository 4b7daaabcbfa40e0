package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * PMA (Pooling by Multihead Attention with one learned seed) as DJL operations, batched and differentiable: the
 * training twin of the serving forward in the model module. The math and the tensor names are those of
 * {@code docs/d2llm-heads.md}:
 *
 * <pre>
 * Q = S·Wqᵀ + bq,  K = X·Wkᵀ + bk,  V = X·Wvᵀ + bv
 * per head j: a = softmax_t(Q_j·K_{t,j} / sqrt(d)) over real tokens,  A_j = Σ_t a_t V_{t,j}
 * O = LN0(S + concat_j A_j);  O = LN1(O + ReLU(O·Woᵀ + bo));  pma = O / ‖O‖
 * </pre>
 *
 * <p>The block holds references to its tensors, not copies: they are the trainable parameters when their owner
 * ({@link StudentHeads}) has attached gradients. It works in the data type of its tensors (float32 for training
 * and bundles; float64 is used by the gradient checks). Not thread-safe while training; the forward itself keeps
 * no state.
 */
public final class PmaBlock {
  public static final String SEED = "pma.seed";
  public static final String FC_Q_WEIGHT = "pma.fc_q.weight";
  public static final String FC_Q_BIAS = "pma.fc_q.bias";
  public static final String FC_K_WEIGHT = "pma.fc_k.weight";
  public static final String FC_K_BIAS = "pma.fc_k.bias";
  public static final String FC_V_WEIGHT = "pma.fc_v.weight";
  public static final String FC_V_BIAS = "pma.fc_v.bias";
  public static final String FC_O_WEIGHT = "pma.fc_o.weight";
  public static final String FC_O_BIAS = "pma.fc_o.bias";
  public static final String LN0_WEIGHT = "pma.ln0.weight";
  public static final String LN0_BIAS = "pma.ln0.bias";
  public static final String LN1_WEIGHT = "pma.ln1.weight";
  public static final String LN1_BIAS = "pma.ln1.bias";
  /** Every PMA tensor name, in bundle order. */
  public static final List<String> NAMES = List.of(SEED, FC_Q_WEIGHT, FC_Q_BIAS, FC_K_WEIGHT, FC_K_BIAS,
      FC_V_WEIGHT, FC_V_BIAS, FC_O_WEIGHT, FC_O_BIAS, LN0_WEIGHT, LN0_BIAS, LN1_WEIGHT, LN1_BIAS);
  /** LayerNorm epsilon fixed by the contract. */
  public static final float LN_EPS = 1e-5f;
  /** Added to the scores of padding tokens: their softmax weight underflows to exactly 0. */
  private static final float MASKED = -1e9f;

  private final int dim;
  private final int heads;
  private final Map<String, NDArray> tensors;

  private PmaBlock(int dim, int heads, Map<String, NDArray> tensors) {
    this.dim = dim;
    this.heads = heads;
    this.tensors = tensors;
  }

  /** The shape of every PMA tensor for dimension {@code d}. */
  public static Map<String, Shape> shapes(int d) {
    Map<String, Shape> shapes = new LinkedHashMap<>();
    for (String name : NAMES) {
      shapes.put(name, name.equals(SEED) ? new Shape(1, d) : name.endsWith(".weight") && name.contains(".fc_")
          ? new Shape(d, d) : new Shape(d));
    }
    return shapes;
  }

  /**
   * A block over these tensors (referenced, not copied).
   *
   * @param tensors at least the {@link #NAMES}, shaped as {@link #shapes(int)} with {@code d} from {@code pma.seed}
   * @param heads number of attention heads; must divide {@code d}
   * @throws IllegalArgumentException naming a missing tensor or a wrong shape
   */
  public static PmaBlock of(Map<String, NDArray> tensors, int heads) {
    NDArray seed = tensors.get(SEED);
    if (seed == null || seed.getShape().dimension() != 2) {
      throw new IllegalArgumentException("PMA needs tensor " + SEED + " of shape [1, d]; got "
          + (seed == null ? "none" : seed.getShape()));
    }
    int d = Math.toIntExact(seed.getShape().get(1));
    if (heads < 1 || d % heads != 0) {
      throw new IllegalArgumentException("PMA heads must divide d=" + d + ": " + heads);
    }
    Map<String, NDArray> own = new LinkedHashMap<>();
    shapes(d).forEach((name, shape) -> own.put(name, checked(tensors, name, shape)));
    return new PmaBlock(d, heads, own);
  }

  static NDArray checked(Map<String, NDArray> tensors, String name, Shape expected) {
    NDArray t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("missing tensor " + name + " (expected shape " + expected + ")");
    }
    if (!t.getShape().equals(expected)) {
      throw new IllegalArgumentException("tensor " + name + " has shape " + t.getShape() + ", expected " + expected);
    }
    return t;
  }

  /** Vector size {@code d}. */
  public int dimension() {
    return dim;
  }

  /** Number of attention heads {@code h}. */
  public int heads() {
    return heads;
  }

  /** The block's tensors by name (the live arrays; do not close them). */
  public Map<String, NDArray> tensors() {
    return java.util.Collections.unmodifiableMap(tensors);
  }

  /**
   * Pools token states into unit vectors.
   *
   * @param states backbone token states {@code [B, T, d]}
   * @param mask attention mask {@code [B, T]}, 1 for real tokens and 0 for padding (any numeric type); every row
   *     needs at least one real token
   * @return {@code [B, d]}, each row of unit L2 length
   */
  public NDArray forward(NDArray states, NDArray mask) {
    Objects.requireNonNull(states, "states");
    Objects.requireNonNull(mask, "mask");
    Shape shape = states.getShape();
    if (shape.dimension() != 3 || shape.get(2) != dim) {
      throw new IllegalArgumentException("states must be [B, T, " + dim + "]: " + shape);
    }
    long b = shape.get(0);
    long t = shape.get(1);
    if (!mask.getShape().equals(new Shape(b, t))) {
      throw new IllegalArgumentException("mask must be [" + b + ", " + t + "]: " + mask.getShape());
    }
    int dh = dim / heads;
    NDArray seed = tensors.get(SEED);
    NDArray q = Linear.linear(seed, tensors.get(FC_Q_WEIGHT), tensors.get(FC_Q_BIAS)).singletonOrThrow(); // [1,d]
    NDArray k = Linear.linear(states, tensors.get(FC_K_WEIGHT), tensors.get(FC_K_BIAS)).singletonOrThrow(); // [B,T,d]
    NDArray v = Linear.linear(states, tensors.get(FC_V_WEIGHT), tensors.get(FC_V_BIAS)).singletonOrThrow(); // [B,T,d]
    NDArray scores = k.reshape(b, t, heads, dh).mul(q.reshape(1, 1, heads, dh)).sum(new int[] {3});
    scores = Scalars.div(scores, Math.sqrt(dim)); // [B,T,h]
    NDArray m = mask.toType(states.getDataType(), false).reshape(b, t, 1);
    NDArray attention = scores.add(Scalars.mul(m.sub(1), -MASKED)).softmax(1); // [B,T,h], padding weight exactly 0
    NDArray pooled = v.reshape(b, t, heads, dh).mul(attention.expandDims(3)).sum(new int[] {1}).reshape(b, dim);
    Shape normalized = new Shape(dim);
    NDArray o = LayerNorm.layerNorm(pooled.add(seed), normalized, tensors.get(LN0_WEIGHT), tensors.get(LN0_BIAS),
        LN_EPS).singletonOrThrow();
    NDArray ff = Linear.linear(o, tensors.get(FC_O_WEIGHT), tensors.get(FC_O_BIAS)).singletonOrThrow();
    ff = Activation.relu(ff);
    o = LayerNorm.layerNorm(o.add(ff), normalized, tensors.get(LN1_WEIGHT), tensors.get(LN1_BIAS), LN_EPS)
        .singletonOrThrow();
    return o.div(o.square().sum(new int[] {1}, true).sqrt());
  }
}
