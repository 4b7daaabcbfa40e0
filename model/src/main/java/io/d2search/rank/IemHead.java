package io.d2search.rank;

import io.d2search.nn.Linear;
import io.d2search.nn.MatMul;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The Interaction Emulation Module of docs/d2llm-heads.md: a small MLP that scores a (query, passage) pair from
 * their unit PMA vectors, standing in for a cross-encoder.
 *
 * <pre>
 * x = concat(q, p)                      input CONCAT       (2d)
 * x = concat(q, p, q ⊙ p, |q − p|)      input INTERACTION  (4d)
 * x = concat(q ⊙ p, |q − p|)            input INTERACTION_ONLY (2d)
 * h = ReLU(fc1(x))                      fc1: d_in → hidden (512)
 * f = ReLU(proj_b(h))                   proj0 (SYMMETRIC) or proj1 (ASYMMETRIC): hidden → hidden
 * z = out(f)                            out: hidden → 1, shared by both branches
 * </pre>
 *
 * <p>{@code fc1} is applied block by block ({@code W·x = W_q·q + W_p·p + …}), so {@link #logits} computes the
 * query's block once for all passages of a query.
 *
 * <p>The products of a block of passages with each weight matrix are one {@link MatMul} call (the Panama kernel where
 * the JVM has the Vector API): equal inputs give equal logits up to float rounding (about 1e-6 relative), not always
 * to the bit, because the summation order depends on the kernel and can change while the JIT compiles.
 *
 * <p>Immutable and thread-safe; a call allocates its scratch space once (at most {@value #BLOCK} passages' hidden
 * states), not per passage.
 */
public final class IemHead {

  /** One d-wide block of {@code fc1}'s input. */
  public enum Part {
    /** {@code q} */
    QUERY,
    /** {@code p} */
    PASSAGE,
    /** {@code q ⊙ p} */
    PRODUCT,
    /** {@code |q − p|} */
    DISTANCE
  }

  /** What {@code fc1} reads: its input blocks, in order. */
  public enum Input {
    /** {@code concat(q, p)}, 2d wide. */
    CONCAT("concat", Part.QUERY, Part.PASSAGE),
    /** {@code concat(q, p, q ⊙ p, |q − p|)}, 4d wide. */
    INTERACTION("interaction", Part.QUERY, Part.PASSAGE, Part.PRODUCT, Part.DISTANCE),
    /**
     * {@code concat(q ⊙ p, |q − p|)}, 2d wide: the interaction terms without the raw vectors. Without a block that
     * reads {@code p} alone, fc1 cannot give a document a score of its own whatever the query (a "this document is
     * often the answer" prior, which training on judged queries otherwise teaches).
     */
    INTERACTION_ONLY("interaction-only", Part.PRODUCT, Part.DISTANCE);

    private final String id;
    private final List<Part> parts;

    Input(String id, Part... parts) {
      this.id = id;
      this.parts = List.of(parts);
    }

    /** The name in a bundle's manifest: {@code concat}, {@code interaction} or {@code interaction-only}. */
    public String id() {
      return id;
    }

    /** fc1's input blocks, in order. */
    public List<Part> parts() {
      return parts;
    }

    /** Width of {@code fc1}'s input in multiples of d. */
    public int blocks() {
      return parts.size();
    }

    /** Index of {@code part} among the blocks, or −1 if this input does not read it. */
    public int block(Part part) {
      return parts.indexOf(part);
    }

    /** @throws IllegalArgumentException for an unknown id, naming the known ones */
    public static Input fromId(String id) {
      for (Input input : values()) {
        if (input.id.equals(id)) {
          return input;
        }
      }
      throw new IllegalArgumentException("unknown IEM input '" + id
          + "' (expected concat, interaction or interaction-only)");
    }
  }

  /** Which projection scores the pair. */
  public enum Branch {
    /** {@code proj0}: symmetric tasks (STS, NLI, duplicate detection). */
    SYMMETRIC,
    /** {@code proj1}: asymmetric tasks (query → passage search). */
    ASYMMETRIC;

    /** 0 for {@code proj0}, 1 for {@code proj1}. */
    public int index() {
      return ordinal();
    }
  }

  /** Passages per block: the block's inputs and hidden states (≤ 2·64·max(4d, hidden) floats) stay in L2. */
  static final int BLOCK = 64;

  private final Input input;
  private final int dimension;
  private final int hidden;
  private final Linear fc1;
  private final Linear[] fc1Blocks; // [blocks], each hidden×d without bias: columns of fc1 per input block
  private final Linear proj0;
  private final Linear proj1;
  private final Linear out;
  private final MatMul kernel;

  /**
   * @param input what fc1 reads
   * @param fc1 {@code hidden × (blocks·d)}
   * @param proj0 symmetric branch, {@code hidden × hidden}
   * @param proj1 asymmetric branch, {@code hidden × hidden}
   * @param out shared output, {@code 1 × hidden}
   * @throws IllegalArgumentException if the shapes do not fit together
   */
  public IemHead(Input input, Linear fc1, Linear proj0, Linear proj1, Linear out) {
    this(input, fc1, proj0, proj1, out, MatMul.best());
  }

  private IemHead(Input input, Linear fc1, Linear proj0, Linear proj1, Linear out, MatMul kernel) {
    this.kernel = Objects.requireNonNull(kernel, "kernel");
    this.input = Objects.requireNonNull(input, "input");
    this.fc1 = Objects.requireNonNull(fc1, "fc1");
    this.proj0 = Objects.requireNonNull(proj0, "proj0");
    this.proj1 = Objects.requireNonNull(proj1, "proj1");
    this.out = Objects.requireNonNull(out, "out");
    if (fc1.in() % input.blocks() != 0) {
      throw new IllegalArgumentException(
          "fc1 input width " + fc1.in() + " is not a multiple of " + input.blocks() + " (input " + input.id() + ")");
    }
    this.dimension = fc1.in() / input.blocks();
    this.hidden = fc1.out();
    for (Linear proj : new Linear[] {proj0, proj1}) {
      if (proj.out() != hidden || proj.in() != hidden) {
        throw new IllegalArgumentException(
            "proj must be " + hidden + "×" + hidden + " like fc1's output, is " + proj.out() + "×" + proj.in());
      }
    }
    if (out.out() != 1 || out.in() != hidden) {
      throw new IllegalArgumentException("out must be 1×" + hidden + ", is " + out.out() + "×" + out.in());
    }
    this.fc1Blocks = new Linear[input.blocks()];
    for (int b = 0; b < fc1Blocks.length; b++) {
      fc1Blocks[b] = fc1.columns(b * dimension, dimension);
    }
  }

  /**
   * This head computing its products with {@code kernel} (default {@link MatMul#best()}): the same logits up to
   * float rounding; for benchmarks and tests that compare the kernels.
   */
  public IemHead withKernel(MatMul kernel) {
    return new IemHead(input, fc1, proj0, proj1, out, kernel);
  }

  /** The relevance logit z of one pair. @throws IllegalArgumentException if a vector's length is not d */
  public float logit(float[] q, float[] p, Branch branch) {
    return logits(q, List.of(p), branch)[0];
  }

  /**
   * Logits of one query against many passages (re-ranking the ANN top-K). The query's part of fc1 is computed once,
   * and passages go through the MLP in blocks of {@value #BLOCK}, each weight row applied to the whole block while it
   * is in cache: the weights (about 2 MB at d = 384) are then read a few times per query, not once per passage.
   *
   * @param q unit query vector, length d
   * @param passages unit passage vectors, each length d; may be empty
   * @return a new array, {@code z[i]} the logit of {@code passages.get(i)}
   * @throws IllegalArgumentException if a vector's length is not d
   */
  public float[] logits(float[] q, List<float[]> passages, Branch branch) {
    float[] z = new float[passages.size()];
    forward(q, passages, proj(branch), z, null);
    return z;
  }

  /**
   * The hidden-wide (512 in the doc) branch output {@code f = ReLU(proj_b(h))} that feature imitation compares.
   *
   * @return a new array of length {@link #hidden()}
   * @throws IllegalArgumentException if a vector's length is not d
   */
  public float[] feature(float[] q, float[] p, Branch branch) {
    float[][] f = new float[1][hidden];
    forward(q, List.of(p), proj(branch), new float[1], f);
    return f[0];
  }

  /** Fills {@code z} (and {@code features}, when not null) for all passages. */
  private void forward(float[] q, List<float[]> passages, Linear proj, float[] z, float[][] features) {
    checked("query", q);
    Linear queryBlock = block(Part.QUERY);
    Linear passageBlock = block(Part.PASSAGE);
    Linear productBlock = block(Part.PRODUCT);
    Linear distanceBlock = block(Part.DISTANCE);
    float[] fc1Query = new float[hidden]; // fc1's query block plus bias, shared by every passage
    for (int r = 0; r < hidden; r++) {
      fc1Query[r] = (queryBlock == null ? 0f : queryBlock.dotRow(r, q)) + fc1.bias(r);
    }
    int width = Math.min(BLOCK, passages.size());
    float[][] p = new float[width][];
    float[][] h = new float[width][hidden];
    float[][] f = new float[width][hidden];
    float[][] product = productBlock != null ? new float[width][dimension] : null;
    float[][] distance = distanceBlock != null ? new float[width][dimension] : null;
    float outBias = out.bias(0);
    for (int from = 0; from < passages.size(); from += BLOCK) {
      int n = Math.min(BLOCK, passages.size() - from);
      for (int b = 0; b < n; b++) {
        p[b] = checked("passage", passages.get(from + b));
        if (product != null) {
          for (int i = 0; i < dimension; i++) {
            product[b][i] = q[i] * p[b][i];
          }
        }
        if (distance != null) {
          for (int i = 0; i < dimension; i++) {
            distance[b][i] = Math.abs(q[i] - p[b][i]);
          }
        }
        System.arraycopy(fc1Query, 0, h[b], 0, hidden);
        java.util.Arrays.fill(f[b], 0f);
      }
      // h = ReLU(fc1(x)): the whole block through each of fc1's blocks, the weights read once per passage block
      if (passageBlock != null) {
        kernel.accumulate(passageBlock, p, n, h);
      }
      if (product != null) {
        kernel.accumulate(productBlock, product, n, h);
      }
      if (distance != null) {
        kernel.accumulate(distanceBlock, distance, n, h);
      }
      for (int b = 0; b < n; b++) {
        for (int r = 0; r < hidden; r++) {
          h[b][r] = Math.max(0f, h[b][r]);
        }
      }
      // f = ReLU(proj(h)); z = out(f)
      kernel.accumulate(proj, h, n, f);
      for (int b = 0; b < n; b++) {
        float zb = outBias;
        for (int r = 0; r < hidden; r++) {
          float fr = Math.max(0f, f[b][r] + proj.bias(r));
          zb += out.weight(0, r) * fr;
          if (features != null) {
            features[from + b][r] = fr;
          }
        }
        z[from + b] = zb;
      }
    }
  }

  /** fc1's columns that read {@code part}, or null if the input has no such block. */
  private Linear block(Part part) {
    int b = input.block(part);
    return b < 0 ? null : fc1Blocks[b];
  }

  private float[] checked(String what, float[] v) {
    Objects.requireNonNull(v, what);
    if (v.length != dimension) {
      throw new IllegalArgumentException(what + " vector has length " + v.length + ", IEM expects " + dimension);
    }
    return v;
  }

  /** What fc1 reads. */
  public Input input() {
    return input;
  }

  /** Dimension d of the query and passage vectors. */
  public int dimension() {
    return dimension;
  }

  /** Width of the hidden layers and of {@link #feature} (512 in the doc). */
  public int hidden() {
    return hidden;
  }

  public Linear fc1() {
    return fc1;
  }

  /** {@code proj0} for {@link Branch#SYMMETRIC}, {@code proj1} for {@link Branch#ASYMMETRIC}. */
  public Linear proj(Branch branch) {
    Objects.requireNonNull(branch, "branch");
    return branch == Branch.SYMMETRIC ? proj0 : proj1;
  }

  public Linear out() {
    return out;
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "IemHead[input=%s, d=%d, hidden=%d]", input.id(), dimension, hidden);
  }
}
