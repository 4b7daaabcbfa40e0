package io.d2search.lab;

import io.d2search.bundle.TrainingWindow;
import io.d2search.distill.JudgedQuery;
import io.d2search.distill.QuerySplit;
import io.d2search.data.BeirDataset;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;

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
   * (version 0, another dataset, another split) or its manifest does not record the draw (count, seed).
   *
   * @param version the bundle's version
   * @param window the bundle's {@link io.d2search.bundle.Manifest#trainingWindow()}; null for none (version 0)
   * @param seed the bundle's {@link io.d2search.bundle.Manifest#trainingSeed()}, which drew the slice
   * @param data the split's judged data, as {@code distill} read it
   * @throws IllegalArgumentException if the manifest names this window but the draw does not reproduce its count
   *     (the judgements changed since the bundle was trained), or names no held-out kind
   */
  static Optional<HeldOutSlice> of(String version, TrainingWindow window, OptionalLong seed, String dataset,
      String split, BeirDataset data) {
    if (!split.equals(trainedSplit(window, dataset)) || window.heldOutQueries() == null || window.queries() == null
        || seed.isEmpty()) {
      return Optional.empty();
    }
    int queries = window.queries();
    int heldOut = window.heldOutQueries();
    List<JudgedQuery> judged = JudgedQuery.fromQrels(data);
    if (judged.size() != queries) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "bundle %s was trained on %d judged queries of %s/%s, "
          + "which now has %d: its held-out slice cannot be drawn again", version, queries, dataset,
          split, judged.size()));
    }
    String kind = window.heldOutKind();
    if (kind == null) {
      // Bundles older than held-out kinds drew their slice another way.
      throw new IllegalArgumentException("bundle " + version + " records no held-out kind: its held-out slice cannot "
          + "be drawn again");
    }
    // round(fraction · n) with fraction = held-out / n gives back the recorded count exactly.
    double fraction = judged.isEmpty() ? 0 : (double) heldOut / judged.size();
    QuerySplit drawn = QuerySplit.of(judged, fraction, seed.getAsLong(),
        QuerySplit.Kind.valueOf(kind.toUpperCase(Locale.ROOT)));
    if (drawn.heldOut().size() != heldOut) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "bundle %s held out %d queries of %s/%s; drawing "
          + "again gives %d: its held-out slice cannot be reproduced", version, heldOut, dataset,
          split, drawn.heldOut().size()));
    }
    return Optional.of(new HeldOutSlice(version, kind, drawn.heldOut().stream().map(JudgedQuery::id).toList()));
  }

  /**
   * The split of {@code dataset} whose judged queries a bundle trained on (its manifest's {@code training.data}), or
   * null when it did not train on BEIR judgements of that dataset.
   *
   * @param window the bundle's training window; null for none
   */
  static String trainedSplit(TrainingWindow window, String dataset) {
    return window != null && TrainingWindow.BEIR.equals(window.source()) && dataset.equals(window.dataset())
        ? window.split() : null;
  }
}
