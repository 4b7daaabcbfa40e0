package io.d2search.distill;

import io.d2search.rank.IemHead.Input;
import io.d2search.rank.IemHead.Part;

/**
 * How a fresh IEM starts (one the parent bundle does not provide).
 *
 * <p>Why {@link #COSINE}: a randomly initialised IEM re-ranks worse than the HNSW order it is given, and has to
 * learn the bi-encoder's similarity back from a few thousand labelled queries before it can improve on it; what it
 * learns instead, on SciFact, is which documents the training queries cite. Started as the bi-encoder's own
 * similarity, with every other unit switched off at the output, a re-rank by the untrained IEM is the HNSW order
 * exactly, and training (with early stopping) can only add what it learns on top. It is the same idea as the PMA's
 * mean-pooling start and as zero-initialised residual branches.
 */
public enum IemInit {
  /** PyTorch's {@code nn.Linear} default: weights and biases uniform in ±1/sqrt(fan-in). */
  RANDOM("random"),
  /**
   * {@link #RANDOM}, then: hidden unit 0 reads {@code ReLU(Σ q⊙p)} and unit 1 {@code ReLU(−Σ q⊙p)} from the
   * {@code q ⊙ p} block of the input, both branch projections pass units 0 and 1 through unchanged, and the shared
   * output is {@code SCALE·(f₀ − f₁)} with every other weight and the bias zero, so the logit is
   * {@code SCALE · q·p} (q·p is the cosine: PMA outputs are unit vectors). Needs an input with the {@code q ⊙ p}
   * block ({@link Input#INTERACTION}, {@link Input#INTERACTION_ONLY}): from {@code [q, p]} alone one linear layer
   * cannot form {@code q·p}.
   */
  COSINE("cosine");

  /**
   * Logit per unit of cosine: 20, the scale sentence-transformers' in-batch loss trains MiniLM-type encoders with
   * (temperature 0.05), so the softmax-based losses start neither flat nor saturated.
   */
  public static final float COSINE_SCALE = 20f;

  private final String id;

  IemInit(String id) {
    this.id = id;
  }

  /** The name in options and manifests. */
  public String id() {
    return id;
  }

  /** COSINE where the input allows it, else RANDOM. */
  public static IemInit defaultFor(Input input) {
    return COSINE.allows(input) ? COSINE : RANDOM;
  }

  /** Whether this start can be built for {@code input}: RANDOM always, COSINE with a {@code q ⊙ p} block. */
  public boolean allows(Input input) {
    return this == RANDOM || input.block(Part.PRODUCT) >= 0;
  }

  /**
   * @throws IllegalArgumentException naming the known ids
   */
  public static IemInit fromId(String id) {
    for (IemInit init : values()) {
      if (init.id.equals(id)) {
        return init;
      }
    }
    throw new IllegalArgumentException("unknown IEM initialisation '" + id + "': random or cosine");
  }
}
