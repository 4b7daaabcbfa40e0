package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The pooled vectors of a PMA that does not train, computed once per distinct token sequence. A training step
 * with a frozen PMA then gathers B·(2+K) vectors instead of copying and pooling B·(2+K) padded token-state matrices
 * (the step's whole cost when only the IEM trains). Sequences are keyed by identity: the training set shares one
 * {@link TokenSequence} object per text.
 */
final class FrozenPooling {
  /** Sequences pooled per PMA forward; sorted by length first, so padding stays small. */
  private static final int BATCH = 64;

  private final Map<TokenSequence, float[]> vectors;
  private final int dim;

  private FrozenPooling(Map<TokenSequence, float[]> vectors, int dim) {
    this.vectors = vectors;
    this.dim = dim;
  }

  /** Pools every sequence of the examples with the heads' PMA as it is now. */
  static FrozenPooling of(StudentHeads heads, List<List<TrainingExample>> exampleSets) {
    // First-seen order (an identity set's own order changes from run to run; the batches, and so the last bits of
    // the pooled vectors, must not).
    Set<TokenSequence> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<TokenSequence> distinct = new ArrayList<>();
    for (List<TrainingExample> examples : exampleSets) {
      for (TrainingExample e : examples) {
        List<TokenSequence> texts = new ArrayList<>(List.of(e.query(), e.positive()));
        texts.addAll(e.negatives());
        texts.stream().filter(seen::add).forEach(distinct::add);
      }
    }
    distinct.sort(Comparator.comparingInt(TokenSequence::tokens));
    Map<TokenSequence, float[]> vectors = new IdentityHashMap<>();
    int d = heads.spec().dimension();
    for (int from = 0; from < distinct.size(); from += BATCH) {
      List<TokenSequence> batch = distinct.subList(from, Math.min(distinct.size(), from + BATCH));
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        float[] pooled = pool(heads, heads.manager(), batch).toFloatArray();
        for (int i = 0; i < batch.size(); i++) {
          vectors.put(batch.get(i), Arrays.copyOfRange(pooled, i * d, (i + 1) * d));
        }
      }
    }
    return new FrozenPooling(vectors, d);
  }

  /** The pooled vectors of these sequences, {@code [n, d]}, registered with the caller's scope. */
  NDArray gather(NDManager manager, List<TokenSequence> sequences) {
    float[] out = new float[sequences.size() * dim];
    for (int i = 0; i < sequences.size(); i++) {
      float[] v = vectors.get(sequences.get(i));
      if (v == null) {
        throw new IllegalArgumentException("sequence " + i + " was not pooled in advance");
      }
      System.arraycopy(v, 0, out, i * dim, dim);
    }
    return Scalars.owned(manager, out, new Shape(sequences.size(), dim));
  }

  /**
   * Pads the sequences to the longest and pools them with one forward of the heads' backbone layers, if any, and
   * PMA: {@code [n, d]}.
   */
  static NDArray pool(StudentHeads heads, NDManager manager, List<TokenSequence> sequences) {
    NDArray[] padded = pad(manager, sequences, heads.spec().dimension());
    NDArray x = padded[0];
    NDArray m = padded[1];
    if (heads.backbone().isPresent()) {
      x = heads.backbone().get().forward(x, m); // the tuned top layers, on the frozen lower layers' states
    }
    return heads.pma().forward(x, m);
  }

  /**
   * The sequences padded to the longest: {@code {states [n, T, d], mask [n, T]}} (mask 1 on real tokens), in
   * {@code manager}, registered with the caller's scope.
   */
  static NDArray[] pad(NDManager manager, List<TokenSequence> sequences, int d) {
    int width = sequences.stream().mapToInt(TokenSequence::tokens).max().orElseThrow();
    int n = sequences.size();
    float[] states = new float[n * width * d];
    float[] mask = new float[n * width];
    for (int i = 0; i < n; i++) {
      TokenSequence s = sequences.get(i);
      System.arraycopy(s.data(), 0, states, i * width * d, s.data().length);
      Arrays.fill(mask, i * width, i * width + s.tokens(), 1f);
    }
    return new NDArray[] {Scalars.owned(manager, states, new Shape(n, width, d)),
        Scalars.owned(manager, mask, new Shape(n, width))};
  }
}
