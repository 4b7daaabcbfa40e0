package io.d2search.serve;

import io.d2search.index.FirstStageHit.StageScore;
import io.d2search.events.Team;
import io.d2search.index.Hit;
import java.util.Objects;

/**
 * One result of a search, with what each stage made of it: the retrievers of the first stage (vector, keyword), their
 * fusion, and, when the search re-ranked, the IEM head.
 *
 * @param hit the passage; {@link Hit#score()} is its first-stage score (the retriever's own in a vector or keyword
 *     search, the fused score in a hybrid one); never null
 * @param firstStageRank 1-based position in the first stage's order, ≥ 1 (equal to the final rank when not
 *     re-ranked)
 * @param vector its rank and score in the vector retriever's list; null when that list lacks it or did not run
 * @param keyword the same for the keyword (BM25) retriever
 * @param iemScore the IEM logit (unbounded, higher is more relevant); null when the search did not re-rank
 * @param score what results are ordered by: the first-stage score; when re-ranked, the IEM logit, or its blend with
 *     the first-stage score ({@code search.rerank.first-stage-weight} above 0)
 * @param fusion the fused score's arithmetic, e.g. {@code rrf: 1.0/(60+3) + 1.0/(60+1) = 0.032266}; null unless the
 *     search was hybrid and asked to explain
 * @param team in a search interleaved with a canary release: the model whose ranking picked it; null otherwise
 */
public record RankedHit(Hit hit, int firstStageRank, StageScore vector, StageScore keyword, Float iemScore,
    float score, String fusion, Team team) {
  public RankedHit {
    Objects.requireNonNull(hit, "hit");
    if (firstStageRank < 1) {
      throw new IllegalArgumentException("firstStageRank must be >= 1: " + firstStageRank);
    }
  }

  /** A result of a search that was not interleaved. */
  public RankedHit(Hit hit, int firstStageRank, StageScore vector, StageScore keyword, Float iemScore, float score,
      String fusion) {
    this(hit, firstStageRank, vector, keyword, iemScore, score, fusion, null);
  }

  /** The first-stage score, {@link Hit#score()}. */
  public float firstStageScore() {
    return hit.score();
  }

  /** The passage id, {@link Hit#passageId()}. */
  public String passageId() {
    return hit.passageId();
  }
}
