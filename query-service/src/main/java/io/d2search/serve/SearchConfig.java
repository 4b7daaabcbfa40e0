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
 * @param rerankFirstStageWeight the first-stage score's share in a re-ranked order, in [0, 1]
 *     ({@code search.rerank.first-stage-weight}; 0: the IEM logit alone)
 * @param canaryShare the share of searches interleaved with a live canary release, in [0, 1]
 *     ({@code search.canary-share})
 */
public record SearchConfig(RetrievalMode mode, Fusion fusion, int rerankDepth, double rerankFirstStageWeight,
    double canaryShare) {
  /** The {@code search.*} settings' defaults. */
  public static final SearchConfig DEFAULTS = of(Settings.defaults());

  public SearchConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(fusion, "fusion");
    if (rerankDepth < 1 || rerankDepth > PassageIndex.MAX_K) {
      throw new IllegalArgumentException("rerankDepth must be in [1, " + PassageIndex.MAX_K + "]: " + rerankDepth);
    }
    if (!(rerankFirstStageWeight >= 0 && rerankFirstStageWeight <= 1)) {
      throw new IllegalArgumentException("search.rerank.first-stage-weight must be in [0, 1]: "
          + rerankFirstStageWeight);
    }
    if (!(canaryShare >= 0 && canaryShare <= 1)) {
      throw new IllegalArgumentException("search.canary-share must be in [0, 1]: " + canaryShare);
    }
  }

  /** Reads the {@code search.mode}, {@code search.fusion*} and {@code search.rerank-depth} settings. */
  public static SearchConfig of(Settings s) {
    return new SearchConfig(RetrievalMode.parse(s.string("search.mode")), Fusion.of(s),
        s.integer("search.rerank-depth"), s.doubleValue("search.rerank.first-stage-weight"),
        s.doubleValue("search.canary-share"));
  }

  public SearchConfig withMode(RetrievalMode value) {
    return new SearchConfig(value, fusion, rerankDepth, rerankFirstStageWeight, canaryShare);
  }

  public SearchConfig withFusion(Fusion value) {
    return new SearchConfig(mode, value, rerankDepth, rerankFirstStageWeight, canaryShare);
  }

  public SearchConfig withRerankFirstStageWeight(double value) {
    return new SearchConfig(mode, fusion, rerankDepth, value, canaryShare);
  }

  public SearchConfig withCanaryShare(double value) {
    return new SearchConfig(mode, fusion, rerankDepth, rerankFirstStageWeight, value);
  }

  public SearchConfig withRerankDepth(int value) {
    return new SearchConfig(mode, fusion, value, rerankFirstStageWeight, canaryShare);
  }
}
