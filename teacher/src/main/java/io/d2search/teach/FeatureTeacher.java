package io.d2search.teach;

import java.util.List;

/**
 * A teacher that also exposes, per (query, passage) pair, the feature vector its score was computed from: what
 * feature imitation compares the student's per-pair features with (as cosine Gram matrices over one query's
 * candidates, so only directions within a query matter, not the scale).
 */
public interface FeatureTeacher extends Teacher {

  /** Names of the feature dimensions, in order; never empty. */
  List<String> featureNames();

  /**
   * Per-pair features of passages against one query.
   *
   * @return {@code [passages.size()][featureNames().size()]}, in input order; new arrays
   */
  double[][] features(String query, List<String> passages);

  /**
   * A score and a feature vector per pair.
   *
   * @param scores as {@link #score}
   * @param features as {@link #features}
   */
  record Labels(double[] scores, double[][] features) {}

  /**
   * {@link #score} and {@link #features} of the same pairs. Teachers that compute both from one pass over the query
   * override it; this default asks twice.
   */
  default Labels label(String query, List<String> passages) {
    return new Labels(score(query, passages), features(query, passages));
  }
}
