package io.d2search.distill;

import java.util.Arrays;
import java.util.Objects;

/**
 * Backbone token states of one text, real tokens only (no padding), row-major {@code [tokens][dim]}.
 *
 * @param data {@code tokens·dim} values; owned by the record, do not modify
 * @param tokens number of real tokens, ≥ 1
 * @param dim size of each token state, ≥ 1
 */
public record TokenSequence(float[] data, int tokens, int dim) {
  public TokenSequence {
    Objects.requireNonNull(data, "data");
    if (tokens < 1 || dim < 1) {
      throw new IllegalArgumentException("tokens and dim must be >= 1: " + tokens + ", " + dim);
    }
    if (data.length != (long) tokens * dim) {
      throw new IllegalArgumentException(data.length + " values for " + tokens + " tokens × " + dim);
    }
  }

  /**
   * The real tokens of sequence {@code i} of a padded batch.
   *
   * @param data the batch, row-major {@code [batch][width][dim]}
   * @param width padded sequence length of the batch
   * @param mask attention mask of sequence i, length {@code width}
   * @throws IllegalArgumentException if the sequence has no real token
   */
  public static TokenSequence fromBatch(float[] data, int i, int width, int dim, long[] mask) {
    int real = 0;
    for (long m : mask) {
      if (m != 0) {
        real++;
      }
    }
    if (real == 0) {
      throw new IllegalArgumentException("sequence " + i + " has no real token");
    }
    float[] out = new float[real * dim];
    int n = 0;
    for (int t = 0; t < width; t++) {
      if (mask[t] != 0) {
        System.arraycopy(data, (i * width + t) * dim, out, n++ * dim, dim);
      }
    }
    return new TokenSequence(out, real, dim);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenSequence s && tokens == s.tokens && dim == s.dim && Arrays.equals(data, s.data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * tokens + dim) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "TokenSequence[tokens=" + tokens + ", dim=" + dim + "]";
  }
}
