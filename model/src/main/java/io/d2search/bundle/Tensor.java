package io.d2search.bundle;

import java.util.Arrays;
import java.util.Objects;

/**
 * A float32 tensor: a shape and its values in row-major (C) order, as safetensors stores them.
 *
 * <p>Immutable: the arrays are copied in and every accessor returns a copy. Equality compares shape and values.
 *
 * @param shape dimensions, each ≥ 0; {@code []} is a scalar
 * @param data values, length = product of the shape
 */
public record Tensor(int[] shape, float[] data) {

  public Tensor {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(data, "data");
    shape = shape.clone();
    data = data.clone();
    long size = 1;
    for (int s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      size *= s;
    }
    if (size != data.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " needs " + size + " values, got " + data.length);
    }
  }

  /** A tensor of the given values and shape (both copied). */
  public static Tensor of(float[] data, int... shape) {
    return new Tensor(shape, data);
  }

  /** A copy of the shape. */
  @Override
  public int[] shape() {
    return shape.clone();
  }

  /** A copy of the values. */
  @Override
  public float[] data() {
    return data.clone();
  }

  /** Number of values. */
  public int size() {
    return data.length;
  }

  /** Whether the shape equals {@code expected}. */
  public boolean hasShape(int... expected) {
    return Arrays.equals(shape, expected);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape);
  }
}
