package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.config.Settings;
import io.d2search.bundle.ModelBundle;
import io.d2search.data.BeirDataset;
import io.d2search.data.PassageVectors;
import io.d2search.data.VectorCache;
import io.d2search.distill.CorpusVectors;
import io.d2search.distill.TokenStateCache;
import io.d2search.embed.Embedder;
import io.d2search.eval.EvalReport.HeldOut;
import io.d2search.eval.EvalRunner;
import io.d2search.eval.EvalSettings;
import io.d2search.index.Fusion;
import io.d2search.teach.EnsembleTeacher;
import java.io.PrintStream;
import java.util.List;
import java.util.Optional;

/**
 * What {@code eval}'s library needs from the lab, built from the settings: where bundles are, the shared vector
 * and token-state caches, the offline teacher, and the manifests' training windows (read by {@link HeldOutSlice}).
 */
final class EvalEnvironment {
  private EvalEnvironment() {}

  /**
   * @param caches the vector and token-state cache directories
   * @param noCache embed everything again; neither read nor write the vector cache
   * @param progress where the runner's progress lines go
   */
  static EvalRunner runner(Settings settings, CacheOptions.Dirs caches, boolean noCache, PrintStream progress) {
    EvalSettings values = new EvalSettings(Components.embedder(settings), Components.queryEmbedderConfig(settings),
        Components.chunker(settings),
        Components.queryService(settings).index(), Fusion.of(settings),
        settings.doubleValue("search.rerank.first-stage-weight"));
    return new EvalRunner(values, version -> Components.bundle(settings, version),
        (embedder, texts, fingerprint) -> vectors(embedder, texts, fingerprint, caches, noCache),
        teachers(settings), TRAINING, progress);
  }

  /**
   * Corpus vectors of an embedder: from the vector cache, else pooled from the backbone's cached token states (so
   * students that differ only in their heads share one backbone pass), else embedded.
   */
  private static float[][] vectors(Embedder embedder, List<String> texts, String fingerprint, CacheOptions.Dirs caches,
      boolean noCache) {
    if (noCache) {
      return PassageVectors.embed(embedder, texts, null, "embed corpus");
    }
    try (VectorCache cache = VectorCache.open(caches.vectors(), fingerprint, embedder.info().dimension());
        TokenStateCache states = TokenStateCache.open(caches.tokenStates(), embedder.info())) {
      return CorpusVectors.of(texts, embedder, states, cache, "corpus vectors");
    }
  }

  /** The default offline teacher (TeacherFactory's ensemble), its vectors under setting teacher.cache-dir. */
  private static EvalRunner.Teachers teachers(Settings settings) {
    return new EvalRunner.Teachers() {
      @Override
      public EvalRunner.TeacherScorer precomputed(List<String> corpusTexts) {
        return scorer(TeacherFactory.ensemble(settings, corpusTexts, TeacherFactory.cacheDir(settings)));
      }

      @Override
      public EvalRunner.TeacherScorer uncached(List<String> corpusTexts) {
        return scorer(TeacherFactory.uncached(settings, corpusTexts));
      }
    };
  }

  private static EvalRunner.TeacherScorer scorer(EnsembleTeacher teacher) {
    return new EvalRunner.TeacherScorer() {
      @Override
      public double[] score(String query, List<String> passages) {
        return teacher.score(query, passages);
      }

      @Override
      public void close() {
        teacher.close();
      }
    };
  }

  /** The manifests' typed training windows, as HeldOutSlice reads them. */
  private static final EvalRunner.TrainingWindows TRAINING = new EvalRunner.TrainingWindows() {
    @Override
    public Optional<String> trainedSplit(ModelBundle bundle, String dataset) {
      return Optional.ofNullable(HeldOutSlice.trainedSplit(bundle.trainingWindow().orElse(null), dataset));
    }

    @Override
    public Optional<HeldOut> heldOut(ModelBundle bundle, String dataset, String split, BeirDataset data) {
      return HeldOutSlice.of(bundle.version(), bundle.trainingWindow().orElse(null), bundle.manifest().trainingSeed(),
          dataset, split, data)
          .map(slice -> new HeldOut(slice.version(), slice.kind(), slice.queryIds()));
    }
  };
}
