package io.d2search.index;

import io.d2search.config.Settings;
import io.d2search.schemas.AttributeSchema;
import java.util.Objects;

/**
 * How a {@link PassageIndex} builds and searches its HNSW graph.
 *
 * @param hnswM maximum neighbours per node in the graph ({@code M}); more gives better recall, a bigger graph
 *     and slower indexing. In [2, 512].
 * @param hnswBeamWidth candidates kept while inserting a node ({@code efConstruction}); more gives a better
 *     graph and slower indexing. In [1, 3200].
 * @param efSearch candidates gathered by an approximate search before the best {@code k} are kept: a search
 *     asks the graph for {@code max(k, efSearch)} neighbours. More gives better recall and slower queries.
 *     In [1, 10000].
 * @param ramBufferMb indexing buffer before Lucene flushes a segment, in MB; in [1, 2048]
 * @param attributes the types of the document attributes filters apply to (setting {@code index.attributes})
 * @param encoding how the graph stores the vectors it compares ({@code index.vectors.encoding})
 * @param oversample with a quantized encoding, a search asks the graph for {@code oversample} times its candidates
 *     and re-scores them with the float vectors, keeping the best ({@code index.vectors.oversample}); in [1, 100].
 *     Ignored for float32.
 */
public record IndexConfig(int hnswM, int hnswBeamWidth, int efSearch, double ramBufferMb,
    AttributeSchema attributes, VectorEncoding encoding, double oversample) {

  /**
   * Lucene's defaults for the graph (M 16, beam width 100), 100 search candidates, a 64 MB buffer, the declared
   * attribute types, the default vector encoding: the {@code index.*} settings' defaults.
   */
  public static final IndexConfig DEFAULTS = new IndexConfig(Settings.defaults().integer("index.hnsw.m"),
      Settings.defaults().integer("index.hnsw.beam-width"), Settings.defaults().integer("index.hnsw.ef-search"), 64,
      AttributeSchema.parse(Settings.defaults().string("index.attributes")),
      VectorEncoding.parse(Settings.defaults().string("index.vectors.encoding")),
      Settings.defaults().doubleValue("index.vectors.oversample"));

  public IndexConfig {
    Objects.requireNonNull(attributes, "attributes");
    Objects.requireNonNull(encoding, "encoding");
    if (!(oversample >= 1 && oversample <= 100)) {
      throw new IllegalArgumentException("oversample must be in [1, 100]: " + oversample);
    }
    if (hnswM < 2 || hnswM > 512) {
      throw new IllegalArgumentException("hnswM must be in [2, 512]: " + hnswM);
    }
    if (hnswBeamWidth < 1 || hnswBeamWidth > 3200) {
      throw new IllegalArgumentException("hnswBeamWidth must be in [1, 3200]: " + hnswBeamWidth);
    }
    if (efSearch < 1 || efSearch > 10_000) {
      throw new IllegalArgumentException("efSearch must be in [1, 10000]: " + efSearch);
    }
    if (!(ramBufferMb >= 1 && ramBufferMb <= 2048)) {
      throw new IllegalArgumentException("ramBufferMb must be in [1, 2048]: " + ramBufferMb);
    }
  }

  /** {@link #DEFAULTS}. */
  public static IndexConfig defaults() {
    return DEFAULTS;
  }

  /** This config with other graph parameters. */
  public IndexConfig withHnsw(int m, int beamWidth) {
    return new IndexConfig(m, beamWidth, efSearch, ramBufferMb, attributes, encoding, oversample);
  }

  /** This config with another number of search candidates. */
  public IndexConfig withEfSearch(int candidates) {
    return new IndexConfig(hnswM, hnswBeamWidth, candidates, ramBufferMb, attributes, encoding, oversample);
  }

  /** This config with other attribute types. */
  public IndexConfig withAttributes(AttributeSchema schema) {
    return new IndexConfig(hnswM, hnswBeamWidth, efSearch, ramBufferMb, schema, encoding, oversample);
  }

  /** This config with another vector encoding and oversampling. */
  public IndexConfig withVectors(VectorEncoding value, double oversampleFactor) {
    return new IndexConfig(hnswM, hnswBeamWidth, efSearch, ramBufferMb, attributes, value, oversampleFactor);
  }

  /** This config with another indexing buffer. */
  public IndexConfig withRamBufferMb(double value) {
    return new IndexConfig(hnswM, hnswBeamWidth, efSearch, value, attributes, encoding, oversample);
  }
}
