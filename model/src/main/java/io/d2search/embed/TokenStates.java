package io.d2search.embed;

/**
 * The backbone's {@code last_hidden_state} for a batch, flat in row-major {@code [batch][tokens][dim]} order,
 * with the attention mask it was computed under. Arrays are owned by this record; do not modify them.
 */
public record TokenStates(float[] data, int batch, int tokens, int dim, long[][] mask) {

  /** Token states of one sequence, {@code [tokens][dim]} (copied). */
  public float[][] sequence(int i) {
    float[][] out = new float[tokens][dim];
    for (int t = 0; t < tokens; t++) {
      System.arraycopy(data, (i * tokens + t) * dim, out[t], 0, dim);
    }
    return out;
  }

  /** Mean pooling of sequence {@code i} over its real tokens, L2-normalised, straight from the flat buffer. */
  public float[] meanPooled(int i) {
    double[] sum = new double[dim];
    int count = 0;
    for (int t = 0; t < tokens; t++) {
      if (mask[i][t] != 0) {
        int base = (i * tokens + t) * dim;
        for (int d = 0; d < dim; d++) {
          sum[d] += data[base + d];
        }
        count++;
      }
    }
    if (count == 0) {
      throw new IllegalArgumentException("sequence " + i + " has no real token");
    }
    float[] out = new float[dim];
    for (int d = 0; d < dim; d++) {
      out[d] = (float) (sum[d] / count);
    }
    return MeanPooling.normalize(out);
  }
}
