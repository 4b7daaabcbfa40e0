package io.d2search.distill;

import java.util.List;
import java.util.Objects;

/**
 * One query's training list: its token states, its positive's, K hard negatives', and the teacher's view of the
 * 1 + K pairs. Arrays are owned by the record; do not modify them.
 *
 * @param query the query's token states
 * @param positive the positive passage's token states (clicked or judged relevant)
 * @param negatives K ≥ 1 hard negatives' token states
 * @param teacherScores teacher probabilities of (query, positive) then (query, negative k), length 1 + K, in [0, 1]
 * @param teacherFeatures per-pair teacher features {@code [1 + K][F]} for feature imitation (see
 *     {@link Losses#featureImitation}), or {@code null} when the teacher gives none
 */
public record TrainingExample(
    TokenSequence query, TokenSequence positive, List<TokenSequence> negatives, float[] teacherScores,
    float[][] teacherFeatures) {

  public TrainingExample {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(positive, "positive");
    Objects.requireNonNull(teacherScores, "teacherScores");
    negatives = List.copyOf(negatives);
    if (negatives.isEmpty()) {
      throw new IllegalArgumentException("a training example needs at least one hard negative");
    }
    if (teacherScores.length != 1 + negatives.size()) {
      throw new IllegalArgumentException(
          teacherScores.length + " teacher scores for 1 + " + negatives.size() + " candidates");
    }
    for (float t : teacherScores) {
      if (!(t >= 0 && t <= 1)) {
        throw new IllegalArgumentException("teacher scores are probabilities in [0, 1]: " + t);
      }
    }
    int dim = query.dim();
    if (positive.dim() != dim || negatives.stream().anyMatch(n -> n.dim() != dim)) {
      throw new IllegalArgumentException("query, positive and negatives need the same token state size " + dim);
    }
    if (teacherFeatures != null) {
      if (teacherFeatures.length != 1 + negatives.size() || teacherFeatures[0].length == 0) {
        throw new IllegalArgumentException("teacher features need one non-empty row per candidate");
      }
      for (float[] row : teacherFeatures) {
        if (row.length != teacherFeatures[0].length) {
          throw new IllegalArgumentException("teacher feature rows differ in length");
        }
      }
    }
  }

  /** Number of hard negatives K. */
  public int k() {
    return negatives.size();
  }
}
