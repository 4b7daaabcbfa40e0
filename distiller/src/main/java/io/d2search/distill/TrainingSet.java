package io.d2search.distill;

import java.util.ArrayList;
import java.util.List;

/**
 * Training examples with the query each came from (a query with several positives gives one example per
 * positive, all sharing its negatives).
 *
 * @param examples the examples
 * @param queryIds the query id of each example, same order and size
 */
public record TrainingSet(List<TrainingExample> examples, List<String> queryIds) {
  public TrainingSet {
    examples = List.copyOf(examples);
    queryIds = List.copyOf(queryIds);
    if (examples.size() != queryIds.size()) {
      throw new IllegalArgumentException(examples.size() + " examples but " + queryIds.size() + " query ids");
    }
  }

  /** This set's examples followed by {@code other}'s. */
  public TrainingSet concat(TrainingSet other) {
    List<TrainingExample> examples = new ArrayList<>(this.examples);
    examples.addAll(other.examples);
    List<String> ids = new ArrayList<>(queryIds);
    ids.addAll(other.queryIds);
    return new TrainingSet(examples, ids);
  }

  public int size() {
    return examples.size();
  }

  /** Mean teacher probability of the positives and of the negatives, for the log. */
  public double[] meanTeacherScores() {
    double pos = 0;
    double neg = 0;
    long negatives = 0;
    for (TrainingExample e : examples) {
      pos += e.teacherScores()[0];
      for (int i = 1; i < e.teacherScores().length; i++) {
        neg += e.teacherScores()[i];
        negatives++;
      }
    }
    return new double[] {pos / Math.max(1, examples.size()), neg / Math.max(1, negatives)};
  }
}
