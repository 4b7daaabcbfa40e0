package io.d2search.lab;

import io.d2search.distill.JudgedQuery;
import io.d2search.distill.QuerySplit;
import io.d2search.data.BeirDataset;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The held-out queries {@code distill} drew for a bundle, drawn again from what its manifest records (the split's
 * judged queries, how many were held out, of which kind, with which seed). Bundles trained on one window share it,
 * so they can be compared on queries none of them trained on without looking at the test split: how a release
 * candidate is chosen.
 *
 * @param version the bundle whose manifest defined the slice
 * @param kind {@code unseen} or {@code random} (QuerySplit.Kind, lower case)
 * @param queryIds the held-out query ids, in draw order
 */
record HeldOutSlice(String version, String kind, List<String> queryIds) {

  HeldOutSlice {
    queryIds = List.copyOf(queryIds);
  }

  /**
   * The slice of a bundle, or empty when it was not trained on judged queries of {@code dataset}'s {@code split}
   * (version 0, another dataset, another split).
   *
   * @param version the bundle's version
   * @param training the bundle's manifest {@code training} (null for version 0)
   * @param data the split's judged data, as {@code distill} read it
   * @throws IllegalArgumentException if the manifest names this window but the draw does not reproduce its count
   *     (the judgements changed since the bundle was trained)
   */
  static Optional<HeldOutSlice> of(String version, Map<String, Object> training, String dataset, String split,
      BeirDataset data) {
    if (!split.equals(trainedSplit(training, dataset)) || !(training.get("trainer") instanceof Map<?, ?> trainer)) {
      return Optional.empty();
    }
    Map<?, ?> window = (Map<?, ?>) training.get("data");
    if (!(window.get("heldOutQueries") instanceof Number heldOut) || !(window.get("queries") instanceof Number queries)
        || !(trainer.get("seed") instanceof Number seed)) {
      return Optional.empty();
    }
    List<JudgedQuery> judged = DistillCommand.judgedQueries(data);
    if (judged.size() != queries.intValue()) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "bundle %s was trained on %d judged queries of %s/%s, "
          + "which now has %d: its held-out slice cannot be drawn again", version, queries.intValue(), dataset,
          split, judged.size()));
    }
    String kind = String.valueOf(window.get("heldOutKind"));
    // round(fraction · n) with fraction = held-out / n gives back the recorded count exactly.
    double fraction = judged.isEmpty() ? 0 : heldOut.doubleValue() / judged.size();
    QuerySplit drawn = QuerySplit.of(judged, fraction, seed.longValue(),
        QuerySplit.Kind.valueOf(kind.toUpperCase(Locale.ROOT)));
    if (drawn.heldOut().size() != heldOut.intValue()) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "bundle %s held out %d queries of %s/%s; drawing "
          + "again gives %d: its held-out slice cannot be reproduced", version, heldOut.intValue(), dataset,
          split, drawn.heldOut().size()));
    }
    return Optional.of(new HeldOutSlice(version, kind, drawn.heldOut().stream().map(JudgedQuery::id).toList()));
  }

  /**
   * The split of {@code dataset} whose judged queries a bundle trained on (its manifest's {@code training.data}), or
   * null when it did not train on BEIR judgements of that dataset.
   */
  static String trainedSplit(Map<String, Object> training, String dataset) {
    if (training == null || !(training.get("data") instanceof Map<?, ?> window)) {
      return null;
    }
    Object trainSplit = window.get("split");
    return "beir".equals(window.get("source")) && dataset.equals(window.get("dataset")) && trainSplit != null
        ? trainSplit.toString() : null;
  }
}
