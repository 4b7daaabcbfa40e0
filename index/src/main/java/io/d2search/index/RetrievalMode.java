package io.d2search.index;

import java.util.Locale;

/** Which retrievers gather a search's first-stage candidates. */
public enum RetrievalMode {
  /** The HNSW graph over the passages' vectors alone. */
  VECTOR,
  /** BM25 over the passages' title and text alone. */
  KEYWORD,
  /** Both, their lists fused ({@link Fusion}). */
  HYBRID;

  /** The mode named {@code vector}, {@code keyword} or {@code hybrid} (any case). */
  public static RetrievalMode parse(String name) {
    for (RetrievalMode mode : values()) {
      if (mode.name().equalsIgnoreCase(name.strip())) {
        return mode;
      }
    }
    throw new IllegalArgumentException("mode must be vector, keyword or hybrid: '" + name + "'");
  }

  /** The lower-case name, as requests and impressions spell it. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether the query must be embedded for this mode's first stage. */
  public boolean needsVector() {
    return this != KEYWORD;
  }
}
