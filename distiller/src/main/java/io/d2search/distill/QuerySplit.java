package io.d2search.distill;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Judged queries split into training and held-out ones (early stopping and the bundle's held-out metrics).
 *
 * @param train the training queries, in a seeded random order
 * @param heldOut the held-out queries
 */
public record QuerySplit(List<JudgedQuery> train, List<JudgedQuery> heldOut) {

  /** How the held-out queries are drawn. */
  public enum Kind {
    /** Any queries. */
    RANDOM,
    /**
     * Only queries each of whose positives is judged relevant for no other query, so no held-out positive is ever a
     * training positive. Why: in a citation-style collection such as SciFact many documents are the answer of
     * several queries, and heads trained on them learn which documents tend to be answers; a random held-out slice
     * rewards that prior, and early stopping then keeps training it in. Held out this way, the slice measures what
     * {@code eval}'s unseen subset measures: ranking documents the heads never saw as answers.
     */
    UNSEEN
  }

  public QuerySplit {
    train = List.copyOf(train);
    heldOut = List.copyOf(heldOut);
  }

  /** Every positive of the held-out queries (documents the training data must not present as answers). */
  public Set<String> heldOutPositives() {
    Set<String> out = new HashSet<>();
    heldOut.forEach(q -> out.addAll(q.positives()));
    return out;
  }

  /**
   * Shuffles with {@code seed} and holds out {@code round(fraction · n)} queries: the first ones (RANDOM), or the
   * first ones that qualify (UNSEEN; fewer if fewer qualify).
   *
   * @throws IllegalArgumentException if {@code fraction} is not in [0, 1)
   */
  public static QuerySplit of(List<JudgedQuery> queries, double fraction, long seed, Kind kind) {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new IllegalArgumentException("held-out fraction must be in [0, 1): " + fraction);
    }
    List<JudgedQuery> shuffled = new ArrayList<>(queries);
    Collections.shuffle(shuffled, new Random(seed));
    int want = (int) Math.round(fraction * shuffled.size());
    Map<String, Integer> judgedFor = new HashMap<>();
    for (JudgedQuery q : queries) {
      q.positives().forEach(p -> judgedFor.merge(p, 1, Integer::sum));
    }
    List<JudgedQuery> train = new ArrayList<>();
    List<JudgedQuery> heldOut = new ArrayList<>();
    for (JudgedQuery q : shuffled) {
      boolean qualifies = kind == Kind.RANDOM || q.positives().stream().allMatch(p -> judgedFor.get(p) == 1);
      (heldOut.size() < want && qualifies ? heldOut : train).add(q);
    }
    return new QuerySplit(train, heldOut);
  }
}
