package io.d2search.loop;

import io.d2search.index.Fusion;
import io.d2search.index.PassageRanker;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
import java.util.Objects;

/**
 * How the query service ranks (its {@code search.*} settings), so that the gate measures a candidate the way it
 * would serve: the same first stage, fusion, re-rank depth and blend, through the same {@link PassageRanker}.
 *
 * @param mode the first stage
 * @param fusion how a hybrid first stage fuses
 * @param rerankDepth candidates the IEM re-ranks
 * @param firstStageWeight the first stage's share in a re-ranked score
 */
public record RankingSetup(RetrievalMode mode, Fusion fusion, int rerankDepth, double firstStageWeight) {
  public RankingSetup {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(fusion, "fusion");
  }

  /** The ranker that serves with this IEM head; null ranks by the first stage alone. */
  public PassageRanker ranker(IemHead iem) {
    return new PassageRanker(fusion, iem == null ? null : new Reranker(iem), rerankDepth, firstStageWeight);
  }
}
