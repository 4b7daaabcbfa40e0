package io.d2search.data;

import io.d2search.embed.Embedder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Embeds texts in length-sorted batches with a progress bar, reusing vectors from an optional cache. */
public final class PassageVectors {
  private PassageVectors() {}

  /**
   * @param cache may be null (no caching)
   * @return one unit vector per text, in input order
   */
  public static float[][] embed(Embedder embedder, List<String> texts, VectorCache cache, String label) {
    float[][] out = new float[texts.size()][];
    List<Integer> missing = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      out[i] = cache == null ? null : cache.get(texts.get(i));
      if (out[i] == null) {
        missing.add(i);
      }
    }
    // Length-sorted batches pad little: the corpus is embedded as fast as the backbone allows.
    missing.sort(Comparator.comparingInt(i -> texts.get(i).length()));
    int step = 256;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(label).setInitialMax(texts.size())
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).showSpeed().build()) {
      bar.stepBy(texts.size() - missing.size());
      for (int from = 0; from < missing.size(); from += step) {
        List<Integer> idx = missing.subList(from, Math.min(missing.size(), from + step));
        List<float[]> vectors = embedder.embed(idx.stream().map(texts::get).toList());
        for (int j = 0; j < idx.size(); j++) {
          out[idx.get(j)] = vectors.get(j);
          if (cache != null) {
            cache.put(texts.get(idx.get(j)), vectors.get(j));
          }
        }
        bar.stepBy(idx.size());
      }
    }
    return out;
  }
}
