package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.config.Settings;
import io.d2search.teach.Bm25;
import io.d2search.teach.CachedTeacher;
import io.d2search.teach.CrossEncoderConfig;
import io.d2search.teach.EnsembleConfig;
import io.d2search.teach.EnsembleTeacher;
import io.d2search.teach.LlmHttpConfig;
import io.d2search.teach.LlmHttpTeacher;
import io.d2search.teach.OnnxCrossEncoderTeacher;
import io.d2search.teach.Teacher;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/** The default offline teacher over a corpus, configured from the settings: one recipe for distill and eval. */
final class TeacherFactory {
  private TeacherFactory() {}

  private static EnsembleConfig config(Settings s) {
    return EnsembleConfig.defaults()
        .withProvider(Components.provider(s))
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

  /** The teachers setting {@code teacher.kind} can name. */
  enum Kind {
    ENSEMBLE("ensemble"), LLM_HTTP("llm-http"), ONNX_CROSS_ENCODER("onnx-cross-encoder");

    final String id;

    Kind(String id) {
      this.id = id;
    }

    static Kind of(Settings s) {
      String v = s.string("teacher.kind").strip();
      for (Kind k : values()) {
        if (k.id.equals(v)) {
          return k;
        }
      }
      throw new IllegalArgumentException("Setting teacher.kind must be ensemble, llm-http or onnx-cross-encoder, got '"
          + v + "'");
    }
  }

  /**
   * The teacher {@code distill} labels pairs with, as setting {@code teacher.kind} says. The ensemble comes as
   * itself (a {@link io.d2search.teach.FeatureTeacher}: one pass per query gives scores and features, so its pair
   * scores are not worth a cache); the LLM and cross-encoder teachers behind a {@link CachedTeacher} in
   * {@code <cacheDir>/scores}, since each of their pairs costs a model call. Closing the result closes everything it
   * opened.
   *
   * @throws IllegalArgumentException naming the setting that is missing or wrong
   */
  static Teacher forDistill(Settings s, List<String> corpusTexts, Path cacheDir) {
    return open(s, corpusTexts, cacheDir, true);
  }

  /**
   * The teacher of the distiller service's refreshes: as {@link #forDistill}, except that the ensemble embeds no
   * passage ahead of need. A refresh labels the passages its feedback lists and mined negatives hold, a small part of
   * a large corpus, and the vector cache keeps each one for the next refresh; embedding the whole corpus with both
   * teacher models first would make the first refresh's cost grow with the corpus instead of the feedback.
   */
  static Teacher forLoop(Settings s, List<String> corpusTexts, Path cacheDir) {
    return open(s, corpusTexts, cacheDir, false);
  }

  private static Teacher open(Settings s, List<String> corpusTexts, Path cacheDir, boolean precompute) {
    Kind kind = Kind.of(s);
    if (kind == Kind.ENSEMBLE) {
      return ensemble(s, corpusTexts, cacheDir, precompute);
    }
    Teacher inner = kind == Kind.LLM_HTTP ? new LlmHttpTeacher(llmConfig(s))
        : OnnxCrossEncoderTeacher.create(CrossEncoderConfig.of(
            required(s, "teacher.cross-encoder.onnx").getFileName().toString(), required(s, "teacher.cross-encoder.onnx"),
            required(s, "teacher.cross-encoder.tokenizer"))
            .withProvider(Components.provider(s)));
    return CachedTeacher.owning(inner, cacheDir.resolve("scores"));
  }

  static LlmHttpConfig llmConfig(Settings s) {
    String url = s.string("teacher.llm.url").strip();
    String model = s.string("teacher.llm.model").strip();
    if (url.isEmpty() || model.isEmpty()) {
      throw new IllegalArgumentException("teacher.kind llm-http needs settings teacher.llm.url and teacher.llm.model");
    }
    String key = s.string("teacher.llm.api-key").strip();
    return LlmHttpConfig.of(URI.create(url), model).withMaxConcurrency(s.integer("teacher.llm.max-concurrency"))
        .withApiKey(key.isEmpty() ? null : key);
  }

  private static Path required(Settings s, String key) {
    String v = s.string(key).strip();
    if (v.isEmpty()) {
      throw new IllegalArgumentException("teacher.kind " + s.string("teacher.kind") + " needs setting " + key);
    }
    return Path.of(v);
  }

  /**
   * The ensemble teacher (bge-small + e5-small + BM25 with the corpus' statistics), its passage vectors cached
   * under {@code <cacheDir>/vectors} and computed now for the whole corpus (with a progress bar).
   */
  static EnsembleTeacher ensemble(Settings s, List<String> corpusTexts, Path cacheDir) {
    return ensemble(s, corpusTexts, cacheDir, true);
  }

  private static EnsembleTeacher ensemble(Settings s, List<String> corpusTexts, Path cacheDir, boolean precompute) {
    EnsembleTeacher teacher = EnsembleTeacher.create(config(s), Bm25.statistics(corpusTexts),
        cacheDir.resolve("vectors"));
    if (!precompute) {
      return teacher;
    }
    try {
      teacher.precompute(corpusTexts);
      return teacher;
    } catch (RuntimeException e) {
      teacher.close();
      throw e;
    }
  }
}
