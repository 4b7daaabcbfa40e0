package io.d2search.loop;

import io.d2search.embed.Embedder;
import io.d2search.eval.Retriever;
import io.d2search.eval.ScoredDoc;
import io.d2search.index.Filter;
import io.d2search.index.Fusion;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageRanker;
import io.d2search.index.PassageSearcher;
import io.d2search.index.RetrievalMode;
import java.util.List;

/**
 * One first stage of the replica index (its HNSW or its BM25) as the {@link Retriever} that negative mining reads,
 * ranking passages: a result's {@link ScoredDoc#docId()} is a passage id, the unit the IEM re-ranks and users click.
 */
final class IndexRetriever implements Retriever {
  private final PassageIndex index;
  private final Embedder embedder;
  private final RetrievalMode mode;
  private final PassageRanker ranker;

  /** @param mode {@link RetrievalMode#VECTOR} or {@link RetrievalMode#KEYWORD} */
  IndexRetriever(PassageIndex index, Embedder embedder, RetrievalMode mode) {
    if (mode == RetrievalMode.HYBRID) {
      throw new IllegalArgumentException("a miner's retriever is one first stage, not a fusion");
    }
    this.index = index;
    this.embedder = embedder;
    this.mode = mode;
    this.ranker = new PassageRanker(Fusion.DEFAULT, null, 1);
  }

  @Override
  public String name() {
    return index.modelVersion() + " " + mode.label();
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    PassageRanker.Query ask = new PassageRanker.Query(query, null, mode, Math.min(k, PassageIndex.MAX_K), Filter.NONE,
        false);
    if (ask.needsVector(ranker)) {
      ask = ask.withVector(embedder.embed(query));
    }
    try (PassageSearcher searcher = index.searcher()) {
      return searcher.hits(ranker.rank(searcher, ask).candidates()).stream()
          .map(h -> new ScoredDoc(h.passageId(), h.score())).toList();
    }
  }
}
