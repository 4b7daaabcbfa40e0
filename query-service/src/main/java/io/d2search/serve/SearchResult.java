package io.d2search.serve;

import io.d2search.index.RetrievalMode;
import java.util.List;
import java.util.Objects;

/**
 * The answer to one search.
 *
 * @param queryId the signed id of this request, also the key of its {@code Impression}; clicks refer to it
 * @param modelVersion the model version that ranked the search ({@link ServingModel#version()}): the embedding
 *     model's, or the HEADS release serving at the time, whose passage vectors are the index's; its impression
 *     carries the same
 * @param tookMs wall time of the search (embedding, retrieval, fusion, re-ranking, stored fields), in ms
 * @param mode the first stage that gathered the candidates
 * @param reranked whether the IEM head ordered the hits (else the first stage did)
 * @param hits best first (by {@link RankedHit#score()}; in an interleaved search, in the order the two models
 *     picked them); at most k; immutable
 * @param canaryVersion the canary release the search was interleaved with (each hit's {@link RankedHit#team()} says
 *     which model picked it); null when it was not
 */
public record SearchResult(String queryId, String modelVersion, long tookMs, RetrievalMode mode, boolean reranked,
    List<RankedHit> hits, String canaryVersion) {
  public SearchResult {
    Objects.requireNonNull(queryId, "queryId");
    Objects.requireNonNull(modelVersion, "modelVersion");
    Objects.requireNonNull(mode, "mode");
    hits = List.copyOf(hits);
  }

  /** A result that was not interleaved with a canary. */
  public SearchResult(String queryId, String modelVersion, long tookMs, RetrievalMode mode, boolean reranked,
      List<RankedHit> hits) {
    this(queryId, modelVersion, tookMs, mode, reranked, hits, null);
  }
}
