package io.d2search.serve;

import io.d2search.index.PassageRanker;
import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The model that ranks searches at one moment: the version of the model bundle, its IEM head, the
 * {@link PassageRanker} built from them, and the {@link VectorSpace} it searches. {@link SearchService} holds one and
 * replaces it whole when a release is adopted; a search reads it once, so it embeds, retrieves, ranks and reports
 * with a single version from start to end.
 *
 * @param version the bundle version that ranks: the embedding model's, or a release's
 * @param iem the bundle's IEM head; null when it has none (the first stage's order is the answer)
 * @param ranker both stages of a search, re-ranking with {@code iem}
 * @param since when this model began to serve
 * @param space the index and query embedder of the version's passage vectors (a HEADS release keeps its parent's)
 */
public record ServingModel(String version, IemHead iem, PassageRanker ranker, Instant since, VectorSpace space) {
  public ServingModel {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(ranker, "ranker");
    Objects.requireNonNull(since, "since");
    Objects.requireNonNull(space, "space");
  }

  /**
   * The serving model of a bundle version and its IEM head over a space, ranking as {@code config} says.
   *
   * @throws IllegalArgumentException if the IEM head reads vectors of another dimension than the space's
   */
  public static ServingModel of(String version, IemHead iem, SearchConfig config, VectorSpace space,
      Instant since) {
    if (iem != null && iem.dimension() != space.dimension()) {
      throw new IllegalArgumentException("IEM head of model " + version + " reads vectors of dimension "
          + iem.dimension() + ", the index holds " + space.dimension());
    }
    PassageRanker ranker = new PassageRanker(config.fusion(), iem == null ? null : new Reranker(iem),
        config.rerankDepth(), config.rerankFirstStageWeight());
    return new ServingModel(version, iem, ranker, since, space);
  }

  /** The IEM head; empty when searches rank by the first stage alone. */
  public Optional<IemHead> iemHead() {
    return Optional.ofNullable(iem);
  }
}
