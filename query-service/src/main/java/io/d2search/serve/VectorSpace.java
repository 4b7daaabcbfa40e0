package io.d2search.serve;

import io.d2search.embed.Embedder;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import java.util.Objects;
import java.util.Optional;

/**
 * The passage vectors searches run over: the index of one vectors version, the materialiser that keeps it current
 * from that version's embeddings topic, and the embedder that puts queries into the same space. A HEADS release keeps
 * the space; a FULL release brings a new one, which replaces the old one whole ({@link VectorSpaces}).
 *
 * @param version the model version whose vectors the index holds (its {@link PassageIndex#modelVersion()})
 * @param topic the embeddings topic it is materialised from
 * @param index the passages and their vectors
 * @param embedder embeds queries; stamps the same version
 * @param materializer keeps the index current; null where nothing does (a search service in a unit test)
 */
public record VectorSpace(String version, String topic, PassageIndex index, Embedder embedder,
    EmbeddingsMaterializer materializer) {
  /** @throws ModelVersionMismatchException if the embedder or the index holds another version */
  public VectorSpace {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(topic, "topic");
    Objects.requireNonNull(index, "index");
    Objects.requireNonNull(embedder, "embedder");
    if (!index.modelVersion().equals(version)) {
      throw new ModelVersionMismatchException(version, index.modelVersion());
    }
    if (!embedder.info().version().equals(version)) {
      // A query must be embedded by the version of the index it searches: vectors of two versions live apart.
      throw new ModelVersionMismatchException(version, embedder.info().version());
    }
  }

  /** The materialiser, when something keeps the index current. */
  public Optional<EmbeddingsMaterializer> materializerIfAny() {
    return Optional.ofNullable(materializer);
  }

  /** The vectors' dimension. */
  public int dimension() {
    return embedder.info().dimension();
  }
}
