package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import io.d2search.rank.IemHead.Branch;
import io.d2search.rank.IemHead.Input;
import io.d2search.rank.IemHead.Part;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * IEM (Interaction Emulation Module) as DJL operations, batched and differentiable: the training twin of the
 * serving forward in the model module. From {@code docs/d2llm-heads.md}:
 *
 * <pre>
 * x = concat(q, p)                     (input CONCAT, 2d)
 * x = concat(q, p, q ⊙ p, |q − p|)     (input INTERACTION, 4d)
 * x = concat(q ⊙ p, |q − p|)           (input INTERACTION_ONLY, 2d)
 * h = ReLU(fc1(x));  f = ReLU(proj_b(h));  z = out(f)        b = 0 symmetric, 1 asymmetric; out is shared
 * </pre>
 *
 * <p>Inputs may carry any leading dimensions: {@code q} and {@code p} of shape {@code [..., d]} give logits
 * {@code [...]} and features {@code [..., H]}; so one call scores {@code [B, 1+K, d]} candidate lists. The block
 * references its tensors (the trainable parameters of its {@link StudentHeads}). The hidden width {@code H} is
 * read from the tensors (512 in bundles). The forward keeps no state.
 */
public final class IemBlock {
  public static final String FC1_WEIGHT = "iem.fc1.weight";
  public static final String FC1_BIAS = "iem.fc1.bias";
  public static final String PROJ0_WEIGHT = "iem.proj0.weight";
  public static final String PROJ0_BIAS = "iem.proj0.bias";
  public static final String PROJ1_WEIGHT = "iem.proj1.weight";
  public static final String PROJ1_BIAS = "iem.proj1.bias";
  public static final String OUT_WEIGHT = "iem.out.weight";
  public static final String OUT_BIAS = "iem.out.bias";
  /** Every IEM tensor name, in bundle order. */
  public static final List<String> NAMES =
      List.of(FC1_WEIGHT, FC1_BIAS, PROJ0_WEIGHT, PROJ0_BIAS, PROJ1_WEIGHT, PROJ1_BIAS, OUT_WEIGHT, OUT_BIAS);
  /** Hidden width of the contract. */
  public static final int DEFAULT_HIDDEN = 512;

  private final Input input;
  private final int dim;
  private final int hidden;
  private final Map<String, NDArray> tensors;

  private IemBlock(Input input, int dim, int hidden, Map<String, NDArray> tensors) {
    this.input = input;
    this.dim = dim;
    this.hidden = hidden;
    this.tensors = tensors;
  }

  /** The shape of every IEM tensor for vector size {@code d}, this input and hidden width. */
  public static Map<String, Shape> shapes(int d, Input input, int hidden) {
    Map<String, Shape> shapes = new LinkedHashMap<>();
    shapes.put(FC1_WEIGHT, new Shape(hidden, input.blocks() * d));
    shapes.put(FC1_BIAS, new Shape(hidden));
    shapes.put(PROJ0_WEIGHT, new Shape(hidden, hidden));
    shapes.put(PROJ0_BIAS, new Shape(hidden));
    shapes.put(PROJ1_WEIGHT, new Shape(hidden, hidden));
    shapes.put(PROJ1_BIAS, new Shape(hidden));
    shapes.put(OUT_WEIGHT, new Shape(1, hidden));
    shapes.put(OUT_BIAS, new Shape(1));
    return shapes;
  }

  /**
   * A block over these tensors (referenced, not copied); {@code d} and {@code H} are read from {@code iem.fc1.weight}.
   *
   * @throws IllegalArgumentException naming a missing tensor or a wrong shape
   */
  public static IemBlock of(Map<String, NDArray> tensors, Input input) {
    Objects.requireNonNull(input, "input");
    NDArray fc1 = tensors.get(FC1_WEIGHT);
    if (fc1 == null || fc1.getShape().dimension() != 2 || fc1.getShape().get(1) % input.blocks() != 0) {
      throw new IllegalArgumentException("IEM needs tensor " + FC1_WEIGHT + " of shape [H, " + input.blocks()
          + "·d] for input " + input.id() + "; got " + (fc1 == null ? "none" : fc1.getShape()));
    }
    int hidden = Math.toIntExact(fc1.getShape().get(0));
    int d = Math.toIntExact(fc1.getShape().get(1) / input.blocks());
    Map<String, NDArray> own = new LinkedHashMap<>();
    shapes(d, input, hidden).forEach((name, shape) -> own.put(name, PmaBlock.checked(tensors, name, shape)));
    return new IemBlock(input, d, hidden, own);
  }

  /** What the block reads. */
  public Input input() {
    return input;
  }

  /** Vector size {@code d} of q and p. */
  public int dimension() {
    return dim;
  }

  /** Hidden and feature width {@code H}. */
  public int hidden() {
    return hidden;
  }

  /** The block's tensors by name (the live arrays; do not close them). */
  public Map<String, NDArray> tensors() {
    return Collections.unmodifiableMap(tensors);
  }

  /**
   * The IEM's logit and branch feature.
   *
   * @param logits relevance logits {@code [...]}
   * @param features branch outputs {@code f} (after ReLU), {@code [..., H]}: what feature imitation compares
   */
  public record Output(NDArray logits, NDArray features) {}

  /**
   * Scores pairs.
   *
   * @param q query vectors {@code [..., d]} (unit PMA outputs)
   * @param p passage vectors, the same shape as {@code q}
   * @param branch which projection to use
   */
  public Output forward(NDArray q, NDArray p, Branch branch) {
    Objects.requireNonNull(branch, "branch");
    Shape shape = q.getShape();
    if (!shape.equals(p.getShape()) || shape.dimension() < 1 || shape.get(shape.dimension() - 1) != dim) {
      throw new IllegalArgumentException("q and p must both be [..., " + dim + "]: " + shape + ", " + p.getShape());
    }
    int last = shape.dimension() - 1;
    NDList parts = new NDList();
    for (Part part : input.parts()) {
      parts.add(switch (part) {
        case QUERY -> q;
        case PASSAGE -> p;
        case PRODUCT -> q.mul(p);
        case DISTANCE -> q.sub(p).abs();
      });
    }
    NDArray x = NDArrays.concat(parts, last);
    NDArray h = Activation.relu(Linear.linear(x, tensors.get(FC1_WEIGHT), tensors.get(FC1_BIAS)).singletonOrThrow());
    String proj = branch == Branch.SYMMETRIC ? "iem.proj0" : "iem.proj1";
    NDArray f = Activation.relu(Linear.linear(h, tensors.get(proj + ".weight"), tensors.get(proj + ".bias"))
        .singletonOrThrow());
    NDArray z = Linear.linear(f, tensors.get(OUT_WEIGHT), tensors.get(OUT_BIAS)).singletonOrThrow().squeeze(last);
    return new Output(z, f);
  }

  /**
   * Every query against every passage, as the in-batch contrastive loss needs.
   *
   * @param q queries {@code [B, d]}
   * @param p passages {@code [N, d]}
   * @return logits {@code [B, N]}, entry (i, j) scoring query i against passage j
   */
  public NDArray pairwiseLogits(NDArray q, NDArray p, Branch branch) {
    if (q.getShape().dimension() != 2 || p.getShape().dimension() != 2) {
      throw new IllegalArgumentException("q must be [B, d] and p [N, d]: " + q.getShape() + ", " + p.getShape());
    }
    long b = q.getShape().get(0);
    long n = p.getShape().get(0);
    Shape grid = new Shape(b, n, dim);
    return forward(q.expandDims(1).broadcast(grid), p.expandDims(0).broadcast(grid), branch).logits();
  }
}
