package io.d2search.serve;

import io.d2search.config.Settings;
import io.d2search.index.Fusion;
import io.d2search.index.PassageIndex;
import io.d2search.index.RetrievalMode;
import java.util.Objects;

/**
 * How searches rank.
 *
 * @param mode the first stage of a request that does not name one ({@code search.mode})
 * @param fusion how hybrid searches fuse their two lists ({@code search.fusion*})
 * @param rerankDepth candidates the IEM re-scores, and each retriever's list in a hybrid search, in [1,
 *     {@link PassageIndex#MAX_K}] ({@code search.rerank-depth}); a search for more results uses k
 */
public record SearchConfig(RetrievalMode mode, Fusion fusion, int rerankDepth) {
  /** The {@code search.*} settings' defaults. */
  public static final SearchConfig DEFAULTS = new SearchConfig(
      RetrievalMode.parse(Settings.defaults().string("search.mode")), Fusion.DEFAULT,
      Settings.defaults().integer("search.rerank-depth"));

  public SearchConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(fusion, "fusion");
    if (rerankDepth < 1 || rerankDepth > PassageIndex.MAX_K) {
      throw new IllegalArgumentException("rerankDepth must be in [1, " + PassageIndex.MAX_K + "]: " + rerankDepth);
    }
  }

  /** Reads the {@code search.mode}, {@code search.fusion*} and {@code search.rerank-depth} settings. */
  public static SearchConfig of(Settings s) {
    return new SearchConfig(RetrievalMode.parse(s.string("search.mode")), Fusion.of(s),
        s.integer("search.rerank-depth"));
  }

  public SearchConfig withMode(RetrievalMode value) {
    return new SearchConfig(value, fusion, rerankDepth);
  }

  public SearchConfig withFusion(Fusion value) {
    return new SearchConfig(mode, value, rerankDepth);
  }

  public SearchConfig withRerankDepth(int value) {
    return new SearchConfig(mode, fusion, value);
  }
}
