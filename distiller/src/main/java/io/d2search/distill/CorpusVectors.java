package io.d2search.distill;

import io.d2search.embed.Embedder;
import io.d2search.data.VectorCache;
import java.util.ArrayList;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A corpus' vectors through the token-state cache: the backbone runs once per text for both the index the
 * negatives are mined from and the training examples (the slow step, paid once), and pooling the cached states
 * gives the vectors. Equal to {@link Embedder#embed} up to the float noise of different padding.
 */
public final class CorpusVectors {
  private static final int CHUNK = 256;

  private CorpusVectors() {}

  /**
   * @param embedder the bundle's embedder: its backbone fills the token-state cache, its pooling makes the vectors
   * @param vectors where finished vectors are kept (may be null)
   * @return one unit vector per text, in input order
   */
  public static float[][] of(List<String> texts, Embedder embedder, TokenStateCache tokenStates, VectorCache vectors,
      String label) {
    float[][] out = new float[texts.size()][];
    List<Integer> missing = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      out[i] = vectors == null ? null : vectors.get(texts.get(i));
      if (out[i] == null) {
        missing.add(i);
      }
    }
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(label).setInitialMax(texts.size())
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).showSpeed().build()) {
      bar.stepBy(texts.size() - missing.size());
      for (int from = 0; from < missing.size(); from += CHUNK) {
        List<Integer> idx = missing.subList(from, Math.min(missing.size(), from + CHUNK));
        List<TokenSequence> states = tokenStates.getOrCompute(idx.stream().map(texts::get).toList(), embedder);
        for (int j = 0; j < idx.size(); j++) {
          float[] v = Distillation.pool(embedder.pooling(), states.get(j));
          out[idx.get(j)] = v;
          if (vectors != null) {
            vectors.put(texts.get(idx.get(j)), v);
          }
        }
        bar.stepBy(idx.size());
      }
    }
    tokenStates.flush();
    return out;
  }
}
