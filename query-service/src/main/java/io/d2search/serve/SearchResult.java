package io.d2search.serve;

import java.util.List;
import java.util.Objects;

/**
 * The answer to one search.
 *
 * @param queryId random UUID of this request, also the key of its {@code Impression}; clicks refer to it
 * @param modelVersion model version that embedded the query and the passages
 * @param tookMs wall time of the search (embedding, HNSW, re-ranking, stored fields), in ms
 * @param reranked whether the IEM head ordered the hits (else the HNSW score did)
 * @param hits best first (by {@link RankedHit#score()}); at most k; immutable
 */
public record SearchResult(String queryId, String modelVersion, long tookMs, boolean reranked, List<RankedHit> hits) {
  public SearchResult {
    Objects.requireNonNull(queryId, "queryId");
    Objects.requireNonNull(modelVersion, "modelVersion");
    hits = List.copyOf(hits);
  }
}
