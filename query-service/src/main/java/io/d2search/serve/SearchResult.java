package io.d2search.serve;

import io.d2search.index.Hit;
import java.util.List;
import java.util.Objects;

/**
 * The answer to one search.
 *
 * @param queryId random UUID of this request, also the key of its {@code Impression}; clicks refer to it
 * @param modelVersion model version that embedded the query and the passages
 * @param tookMs wall time of the search (embedding, HNSW, stored fields), in ms
 * @param hits best first; at most k; immutable
 */
public record SearchResult(String queryId, String modelVersion, long tookMs, List<Hit> hits) {
  public SearchResult {
    Objects.requireNonNull(queryId, "queryId");
    Objects.requireNonNull(modelVersion, "modelVersion");
    hits = List.copyOf(hits);
  }
}
