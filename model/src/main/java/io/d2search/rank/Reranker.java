package io.d2search.rank;

import io.d2search.rank.IemHead.Branch;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The second stage of retrieval: a first stage's candidates ordered by the {@link IemHead}'s asymmetric (query →
 * passage, {@link Branch#ASYMMETRIC}) logit, best first. The query service, eval's IEM rows and distill's re-rank
 * selection all rank through this class, so the same inputs get the same order everywhere.
 *
 * <p><b>Order.</b> Logits are compared with {@link Float#compare}, larger first. Candidates whose logits compare
 * equal keep their first-stage order: the sort is stable, so an IEM that scores every candidate the same returns
 * the first stage's order unchanged. {@link Float#compare} settles the edge cases: {@code NaN} ranks above every
 * number, {@code 0.0f} above {@code -0.0f}.
 *
 * <p><b>Ties and float rounding.</b> Candidates with equal vectors get equal logits up to the rounding described
 * in {@link IemHead} (SIMD summation order), so in practice they tie and keep their first-stage order; the order is
 * exact only as far as the logits are.
 *
 * <p>Immutable and thread-safe: it holds only the (immutable) head. A call allocates the logits, one index per
 * candidate and the result.
 */
public final class Reranker {

  /**
   * One re-ranked candidate.
   *
   * @param candidate the candidate's position in the first-stage list given to {@link #rerank}, {@code >= 0}
   * @param logit its IEM logit (asymmetric branch); higher is more relevant
   */
  public record Scored(int candidate, float logit) {
    /** @throws IllegalArgumentException if {@code candidate < 0} */
    public Scored {
      if (candidate < 0) {
        throw new IllegalArgumentException("candidate must be >= 0: " + candidate);
      }
    }
  }

  private final IemHead iem;

  /** @param iem the model bundle's re-ranking head; never null */
  public Reranker(IemHead iem) {
    this.iem = Objects.requireNonNull(iem, "iem");
  }

  /** The head that scores candidates. */
  public IemHead iem() {
    return iem;
  }

  /**
   * Every candidate, best first.
   *
   * @see #rerank(float[], List, int)
   */
  public List<Scored> rerank(float[] query, List<float[]> candidates) {
    return rerank(query, candidates, Math.max(1, candidates.size()));
  }

  /**
   * The {@code k} best candidates, best first: the first {@code min(k, candidates.size())} of the full order, so a
   * smaller {@code k} gives a prefix of a larger one's result.
   *
   * @param query the query vector, length {@link IemHead#dimension()}; not kept
   * @param candidates the first stage's candidate vectors in first-stage order (best first), each of length
   *     {@link IemHead#dimension()}; may be empty; not kept
   * @param k how many candidates at most, {@code >= 1}
   * @return an unmodifiable list, distinct candidates, logits non-increasing in {@link Float#compare}'s order, equal
   *     logits in increasing {@link Scored#candidate()} order
   * @throws IllegalArgumentException if {@code k < 1}, or a vector's length is not the head's dimension
   * @throws NullPointerException if the query, the list or a vector in it is null
   */
  public List<Scored> rerank(float[] query, List<float[]> candidates, int k) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(candidates, "candidates");
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1: " + k);
    }
    float[] logits = iem.logits(query, candidates, Branch.ASYMMETRIC);
    Integer[] order = new Integer[logits.length];
    Arrays.setAll(order, i -> i);
    // Arrays.sort on objects is stable: equal logits keep the first-stage order.
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    Scored[] best = new Scored[Math.min(k, order.length)];
    for (int i = 0; i < best.length; i++) {
      best[i] = new Scored(order[i], logits[order[i]]);
    }
    return List.of(best);
  }

  @Override
  public String toString() {
    return "Reranker[" + iem + "]";
  }
}
