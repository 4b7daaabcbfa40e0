package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Arithmetic with constants that is safe to differentiate, and arrays whose memory libtorch owns.
 *
 * <p>Why: DJL 0.36's PyTorch {@code NDArray.mul(Number)} and {@code div(Number)} wrap the constant in a 0-d
 * tensor over a Java direct buffer ({@code torch::from_blob}), run the op, and close the wrapper at once. Autograd
 * has saved that tensor for the backward pass ({@code d(x·c)/dx = c}), but closing the wrapper lets the garbage
 * collector free the buffer: a GC between forward and backward turns every gradient into NaN (seen here, and
 * reproduced deterministically with a thread calling {@code System.gc()}). {@code add/sub(Number)} save nothing
 * and are safe. So constants that multiply or divide are created here in memory libtorch allocated; the same
 * holds for arrays built from Java arrays ({@link #owned}).
 */
public final class Scalars {
  private Scalars() {}

  /** A 0-d array of {@code value} in {@code like}'s data type and manager, in libtorch-owned memory. */
  public static NDArray of(NDArray like, double value) {
    NDManager manager = like.getManager();
    NDArray owned = manager.zeros(new Shape(), like.getDataType());
    try (NDArray v = manager.create(value)) {
      owned.addi(v); // in place and immediate: nothing keeps v's buffer
    }
    return owned;
  }

  /** {@code x · c}, differentiable. */
  public static NDArray mul(NDArray x, double c) {
    return x.mul(of(x, c));
  }

  /** {@code x / c}, differentiable. */
  public static NDArray div(NDArray x, double c) {
    return x.div(of(x, c));
  }

  /** A float32 array holding a copy of {@code data}, in memory libtorch allocated and owns. */
  public static NDArray owned(NDManager manager, float[] data, Shape shape) {
    NDArray owned = manager.zeros(shape);
    try (NDArray blob = manager.create(data, shape)) {
      owned.addi(blob);
    }
    return owned;
  }
}
