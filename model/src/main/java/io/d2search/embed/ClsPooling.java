package io.d2search.embed;

import java.util.Arrays;

/**
 * The first token's state ({@code [CLS]}), L2-normalised: the pooling of BERT-style encoders trained that way,
 * such as bge-small-en-v1.5. Assumes right padding, as {@link TextTokenizer} pads.
 *
 * <p>Stateless: use {@link #INSTANCE}. Thread-safe.
 */
public final class ClsPooling implements Pooling {
  /** The only instance. */
  public static final ClsPooling INSTANCE = new ClsPooling();

  private ClsPooling() {}

  @Override
  public float[] pool(TokenStates states, int sequence) {
    if (states.mask()[sequence][0] == 0) {
      throw new IllegalArgumentException("sequence " + sequence + " has no real first token (left padding?)");
    }
    int base = sequence * states.tokens() * states.dim();
    return MeanPooling.normalize(Arrays.copyOfRange(states.data(), base, base + states.dim()));
  }

  @Override
  public String name() {
    return "cls";
  }

  @Override
  public String toString() {
    return "ClsPooling";
  }
}
