package io.d2search.embed;

/**
 * How one sequence's backbone token states become one vector: the last step of every embedding, identical at
 * index time, at query time and in training.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Pooling {

  /**
   * Pools one sequence of a batch.
   *
   * @param states a batch of token states with its attention mask
   * @param sequence index of the sequence in the batch, {@code 0 ≤ sequence < states.batch()}
   * @return a new L2-normalised vector (length {@code states.dim()} for the poolings in this module)
   * @throws IllegalArgumentException if the sequence has no real token, or the states do not fit this pooling
   */
  float[] pool(TokenStates states, int sequence);

  /** Short stable name, as in {@link ModelInfo#pooling()} and a bundle's manifest: {@code mean}, {@code cls}, {@code pma}. */
  String name();
}
