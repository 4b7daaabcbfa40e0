package io.d2search.embed;

/**
 * Mean of the token states over real tokens (attention mask 1), then L2 normalisation: sentence-transformers'
 * pooling for all-MiniLM-L6-v2, and the pooling of model version 0 before PMA heads were trained.
 *
 * <p>Stateless: use {@link #INSTANCE}. Thread-safe.
 */
public final class MeanPooling implements Pooling {
  /** The only instance. */
  public static final MeanPooling INSTANCE = new MeanPooling();

  private MeanPooling() {}

  @Override
  public float[] pool(TokenStates states, int sequence) {
    return states.meanPooled(sequence);
  }

  @Override
  public String name() {
    return "mean";
  }

  @Override
  public String toString() {
    return "MeanPooling";
  }

  /**
   * @param states token states {@code [tokens][dim]} of one sequence
   * @param mask attention mask, 1 for real tokens; must have a 1 somewhere
   * @return a new unit-length vector of length {@code dim}
   */
  public static float[] pool(float[][] states, long[] mask) {
    int dim = states[0].length;
    double[] sum = new double[dim];
    int count = 0;
    for (int t = 0; t < states.length; t++) {
      if (mask[t] != 0) {
        float[] row = states[t];
        for (int d = 0; d < dim; d++) {
          sum[d] += row[d];
        }
        count++;
      }
    }
    if (count == 0) {
      throw new IllegalArgumentException("no real token to pool (mask is all zero)");
    }
    float[] out = new float[dim];
    for (int d = 0; d < dim; d++) {
      out[d] = (float) (sum[d] / count);
    }
    return normalize(out);
  }

  /** Scales the vector to unit L2 length in place and returns it; a zero vector stays zero. */
  public static float[] normalize(float[] v) {
    double norm = 0;
    for (float x : v) {
      norm += (double) x * x;
    }
    if (norm > 0) {
      float inv = (float) (1.0 / Math.sqrt(norm));
      for (int i = 0; i < v.length; i++) {
        v[i] *= inv;
      }
    }
    return v;
  }
}
