package io.d2search.loop;

import io.d2search.events.Negative;
import io.d2search.events.TrainingExample;
import java.util.List;
import java.util.Objects;

/**
 * One search's click feedback as the distiller trains and gates on it: what users clicked (positives) and what they
 * saw above a click and passed over (skipped), in passage ids.
 *
 * @param queryId the search's query id (the {@code training-pairs} key); one list per query id, the latest wins
 * @param query the query text
 * @param positives clicked passages, at least one
 * @param positiveRanks the 1-based rank each positive was shown at, in the order of {@code positives}; 0 when
 *     unknown
 * @param skipped passages shown above a click and not clicked, best-ranked first
 * @param modelVersion the model version that ranked the search; null when unknown
 * @param ts when the feedback join formed the example (epoch ms)
 */
public record FeedbackList(String queryId, String query, List<String> positives, List<Integer> positiveRanks,
    List<String> skipped, String modelVersion, long ts) {
  public FeedbackList {
    Objects.requireNonNull(queryId, "queryId");
    Objects.requireNonNull(query, "query");
    positives = List.copyOf(positives);
    positiveRanks = List.copyOf(positiveRanks);
    skipped = List.copyOf(skipped);
    if (positives.isEmpty()) {
      throw new IllegalArgumentException("feedback list " + queryId + " has no positive");
    }
    if (positiveRanks.size() != positives.size()) {
      throw new IllegalArgumentException("feedback list " + queryId + " has " + positives.size() + " positives but "
          + positiveRanks.size() + " ranks");
    }
  }

  /** This list with only the passages {@code live} says still exist; null when no positive is left. */
  public FeedbackList keeping(java.util.function.Predicate<String> live) {
    List<String> p = new java.util.ArrayList<>();
    List<Integer> r = new java.util.ArrayList<>();
    for (int i = 0; i < positives.size(); i++) {
      if (live.test(positives.get(i))) {
        p.add(positives.get(i));
        r.add(positiveRanks.get(i));
      }
    }
    return p.isEmpty() ? null : new FeedbackList(queryId, query, p, r, skipped.stream().filter(live).toList(),
        modelVersion, ts);
  }

  /**
   * The list of a {@code training-pairs} example; null for one without positives (a search nobody clicked, which
   * {@code feedback.emit-unclicked} emits for teacher labelling: nothing here trains on it yet).
   */
  public static FeedbackList of(TrainingExample e) {
    if (e.getPositives().isEmpty()) {
      return null;
    }
    List<String> positives = new java.util.ArrayList<>();
    List<Integer> ranks = new java.util.ArrayList<>();
    for (int i = 0; i < e.getPositives().size(); i++) {
      if (!positives.contains(e.getPositives().get(i))) {
        positives.add(e.getPositives().get(i));
        ranks.add(i < e.getPositiveRanks().size() ? e.getPositiveRanks().get(i) : 0);
      }
    }
    List<String> skipped = e.getNegatives().stream().sorted(java.util.Comparator.comparingInt(Negative::getRank))
        .map(Negative::getPassageId).filter(id -> !positives.contains(id)).distinct().toList();
    return new FeedbackList(e.getQueryId(), e.getQuery(), positives, ranks, skipped, e.getModelVersion(),
        e.getTs().toEpochMilli());
  }
}
