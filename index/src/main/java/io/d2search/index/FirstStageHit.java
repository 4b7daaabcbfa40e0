package io.d2search.index;

/**
 * One candidate of a search's first stage: where each retriever placed it and what the fusion made of that.
 *
 * @param doc the Lucene doc id in the reader of the {@link PassageSearcher} that found it
 * @param score the first-stage score the candidates are ordered by: the retriever's own score in a single-retriever
 *     mode, the fused score in hybrid mode
 * @param vector the passage's rank and score in the vector retriever's list; null when that list lacks it or the
 *     mode has no vector retriever
 * @param keyword the same for the keyword (BM25) retriever
 */
public record FirstStageHit(int doc, float score, StageScore vector, StageScore keyword) {
  public FirstStageHit {
    if (vector == null && keyword == null) {
      throw new IllegalArgumentException("a first-stage hit comes from at least one retriever");
    }
  }

  /**
   * A place in one retriever's list.
   *
   * @param rank 1-based
   * @param score that retriever's score: {@code (1 + cos) / 2} for vectors, BM25 for keywords
   */
  public record StageScore(int rank, float score) {
    public StageScore {
      if (rank < 1) {
        throw new IllegalArgumentException("rank must be >= 1: " + rank);
      }
    }
  }
}
