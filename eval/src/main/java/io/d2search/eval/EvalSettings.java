package io.d2search.eval;

import io.d2search.embed.EmbedderConfig;
import io.d2search.index.Fusion;
import io.d2search.index.IndexConfig;
import io.d2search.ingest.ChunkerConfig;
import java.util.Objects;

/**
 * The deployment settings an evaluation shares with the services it measures, as values: the student is measured
 * as it would be served.
 *
 * @param embedder the embedder's configuration (backbone, max tokens, batch, threads, provider); each bundle's
 *     embedder is built on it
 * @param queryEmbedder the query service's embedder configuration ({@code search.query-encoder}); when its backbone
 *     differs from {@code embedder}'s, each student's dense rows are also measured with queries encoded by it
 * @param chunker how documents are cut into passages, as the indexer cuts them
 * @param index how the evaluation's indexes are built and searched (HNSW, vector encoding, oversampling), as the
 *     query service's ({@code index.*})
 * @param fusion how the service fuses a hybrid search's two lists ({@code search.fusion*})
 * @param rerankFirstStageWeight the first-stage score's share in a re-ranked order
 *     ({@code search.rerank.first-stage-weight})
 */
public record EvalSettings(EmbedderConfig embedder, EmbedderConfig queryEmbedder, ChunkerConfig chunker, IndexConfig index,
    Fusion fusion, double rerankFirstStageWeight) {
  public EvalSettings {
    Objects.requireNonNull(embedder, "embedder");
    Objects.requireNonNull(queryEmbedder, "queryEmbedder");
    Objects.requireNonNull(index, "index");
    Objects.requireNonNull(chunker, "chunker");
    Objects.requireNonNull(fusion, "fusion");
  }
}
