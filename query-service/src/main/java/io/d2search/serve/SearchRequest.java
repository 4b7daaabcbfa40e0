package io.d2search.serve;

import io.d2search.index.Filter;
import io.d2search.index.RetrievalMode;
import java.util.Objects;

/**
 * One search, as a client asks for it.
 *
 * @param query the query text; not blank, at most {@link SearchService#MAX_QUERY_CHARS} characters
 * @param k how many results at most, in [1, {@link SearchService#MAX_K}]
 * @param mode the first stage; null for the service's default ({@code search.mode})
 * @param rerank whether to re-rank with the IEM head (without one the search never re-ranks)
 * @param filter what every result's document attributes must meet
 * @param explain whether results carry the fusion arithmetic ({@link RankedHit#fusion()})
 */
public record SearchRequest(String query, int k, RetrievalMode mode, boolean rerank, Filter filter, boolean explain) {
  public SearchRequest {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(filter, "filter");
  }

  /** The default search: the service's mode, re-ranked when it can be, unfiltered, no explanation. */
  public static SearchRequest of(String query, int k) {
    return new SearchRequest(query, k, null, true, Filter.NONE, false);
  }

  public SearchRequest withMode(RetrievalMode value) {
    return new SearchRequest(query, k, value, rerank, filter, explain);
  }

  public SearchRequest withRerank(boolean value) {
    return new SearchRequest(query, k, mode, value, filter, explain);
  }

  public SearchRequest withFilter(Filter value) {
    return new SearchRequest(query, k, mode, rerank, value, explain);
  }

  public SearchRequest withExplain(boolean value) {
    return new SearchRequest(query, k, mode, rerank, filter, value);
  }
}
