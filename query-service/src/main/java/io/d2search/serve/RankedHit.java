package io.d2search.serve;

import io.d2search.index.Hit;
import java.util.Objects;

/**
 * One result of a search, with the scores of both stages: HNSW (first stage) and, when the search re-ranked, the
 * IEM head (second stage).
 *
 * @param hit the passage; {@link Hit#score()} is its HNSW score, in [0, 1]; never null
 * @param hnswRank 1-based position in the HNSW order, ≥ 1 (equal to the final rank when not re-ranked)
 * @param iemScore the IEM logit (unbounded, higher is more relevant); null when the search did not re-rank
 */
public record RankedHit(Hit hit, int hnswRank, Float iemScore) {
  public RankedHit {
    Objects.requireNonNull(hit, "hit");
    if (hnswRank < 1) {
      throw new IllegalArgumentException("hnswRank must be >= 1: " + hnswRank);
    }
  }

  /** The score results are ordered by: the IEM logit when re-ranked, else the HNSW score. */
  public float score() {
    return iemScore != null ? iemScore : hit.score();
  }

  /** The HNSW score, {@link Hit#score()}. */
  public float hnswScore() {
    return hit.score();
  }

  /** The passage id, {@link Hit#passageId()}. */
  public String passageId() {
    return hit.passageId();
  }
}
