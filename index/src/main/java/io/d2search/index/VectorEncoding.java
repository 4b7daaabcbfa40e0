package io.d2search.index;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene104.Lucene104HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.util.quantization.QuantizedByteVectorValues.ScalarEncoding;

/**
 * How the HNSW graph stores the vectors it compares (setting {@code index.vectors.encoding}). The full float32
 * vectors are always kept as well: {@link PassageSearcher#vectors} returns them bit for bit, and a quantized search
 * re-scores its top candidates with them (oversampling, {@link IndexConfig#oversample()}).
 *
 * <p>The quantized encodings are Lucene's optimized scalar quantization ({@link Lucene104HnswScalarQuantizedVectorsFormat}):
 * each vector is centred on the segment's centroid and quantized with per-vector correction terms; {@link #BBQ} is one
 * bit per dimension with 4-bit queries (Lucene's "better binary quantization"). The graph and the quantized vectors
 * are what a search reads for every visited node, so they are what must fit in the page cache; the floats are read
 * only for the few candidates re-scored.
 *
 * <p>Changing the encoding of an existing index is safe: each segment records its own format, new segments take the
 * new one, and merges rewrite the old ones.
 */
public enum VectorEncoding {
  /** Unquantized float32: 4 bytes per dimension. */
  FLOAT32("float32", null),
  /** 8 bits per dimension. */
  INT8("int8", ScalarEncoding.UNSIGNED_BYTE),
  /** 7 bits per dimension (one byte, faster integer arithmetic than 8). */
  INT7("int7", ScalarEncoding.SEVEN_BIT),
  /** 4 bits per dimension, two per byte. */
  INT4("int4", ScalarEncoding.PACKED_NIBBLE),
  /** 2 bits per dimension, queries at 4. */
  INT2("int2", ScalarEncoding.DIBIT_QUERY_NIBBLE),
  /** 1 bit per dimension, queries at 4: binary quantization (BBQ). */
  BBQ("bbq", ScalarEncoding.SINGLE_BIT_QUERY_NIBBLE);

  private final String label;
  private final ScalarEncoding lucene;

  VectorEncoding(String label, ScalarEncoding lucene) {
    this.label = label;
    this.lucene = lucene;
  }

  /** The setting's value: {@code float32}, {@code int8}, {@code int7}, {@code int4}, {@code int2} or {@code bbq}. */
  public String label() {
    return label;
  }

  /** Whether the graph compares quantized vectors (and a search re-scores its top candidates with the floats). */
  public boolean quantized() {
    return lucene != null;
  }

  /** Bits per dimension the graph's vectors take (32 for float32). */
  public int bits() {
    return lucene == null ? 32 : lucene.getDocBitsPerDim();
  }

  /** The Lucene format of the vector field. */
  KnnVectorsFormat format(int m, int beamWidth) {
    return lucene == null ? new Lucene99HnswVectorsFormat(m, beamWidth)
        : new Lucene104HnswScalarQuantizedVectorsFormat(lucene, m, beamWidth);
  }

  /**
   * The encoding named by a setting value (case-insensitive).
   *
   * @throws IllegalArgumentException naming the accepted values
   */
  public static VectorEncoding parse(String value) {
    String v = value.trim().toLowerCase(Locale.ROOT);
    for (VectorEncoding e : values()) {
      if (e.label.equals(v)) {
        return e;
      }
    }
    throw new IllegalArgumentException("index.vectors.encoding must be one of " + Arrays.stream(values())
        .map(VectorEncoding::label).collect(Collectors.joining(", ")) + ": " + value);
  }

  @Override
  public String toString() {
    return label;
  }
}
