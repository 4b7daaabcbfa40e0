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
}
