package io.d2search.app;

import io.d2search.embed.ExecutionProvider;
import io.d2search.teach.Bm25;
import io.d2search.teach.EnsembleConfig;
import io.d2search.teach.EnsembleTeacher;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The default offline teacher over a corpus, configured from the settings: one recipe for distill and eval. */
final class TeacherFactory {
  private TeacherFactory() {}

  private static EnsembleConfig config(Settings s) {
    return EnsembleConfig.defaults()
        .withProvider(ExecutionProvider.valueOf(s.string("model.provider").toUpperCase(Locale.ROOT)))
        .withIntraOpThreads(s.integer("model.threads"));
  }

  /**
   * The same teacher with nothing precomputed or memoised: every call encodes its passages, as a cross-encoder
   * teacher must. For measuring what re-ranking with the teacher itself costs per query.
   */
  static EnsembleTeacher uncached(Settings s, List<String> corpusTexts) {
    return EnsembleTeacher.create(config(s).withMemoEntries(0), Bm25.statistics(corpusTexts), null);
  }

  /** Setting teacher.cache-dir, or {@code <data.dir>/cache/teacher} when empty. */
  static Path cacheDir(Settings s) {
    String dir = s.string("teacher.cache-dir");
    return dir.isBlank() ? Components.dataDir(s).resolve("cache").resolve("teacher") : Path.of(dir);
  }

  /**
   * The ensemble teacher (bge-small + e5-small + BM25 with the corpus' statistics), its passage vectors cached
   * under {@code <cacheDir>/vectors} and computed now for the whole corpus (with a progress bar).
   */
  static EnsembleTeacher ensemble(Settings s, List<String> corpusTexts, Path cacheDir) {
    EnsembleTeacher teacher = EnsembleTeacher.create(config(s), Bm25.statistics(corpusTexts),
        cacheDir.resolve("vectors"));
    try {
      teacher.precompute(corpusTexts);
      return teacher;
    } catch (RuntimeException e) {
      teacher.close();
      throw e;
    }
  }
}
