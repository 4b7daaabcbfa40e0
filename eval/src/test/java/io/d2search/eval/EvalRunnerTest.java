package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.data.PassageVectors;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.eval.EvalReport.RetrievalRow;
import io.d2search.eval.EvalSystem.BiEncoder;
import io.d2search.eval.EvalSystem.Dense;
import io.d2search.eval.EvalSystem.Search;
import io.d2search.index.IndexConfig;
import io.d2search.ingest.ChunkerConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation pipeline as a library, on a tiny BEIR dataset with the real bi-encoder and a word-overlap teacher:
 * typed rows in table order, the baseline, the cache fingerprint, progress lines, and everything it opened closed.
 * (Students, their IEM rows and the unseen subset run end to end in the lab's DistillCommandIT.)
 */
class EvalRunnerTest {
  private static final String[][] DOCS = {
      {"volcano", "Volcanic eruptions", "Magma rises through the crust and a volcano erupts ash and lava."},
      {"chess", "Chess openings", "The Sicilian defence is a popular chess opening for black."},
      {"bread", "Baking bread", "Yeast makes bread dough rise before it is baked in an oven."},
      {"orbit", "Planetary orbits", "Planets orbit the sun on elliptical paths described by Kepler's laws."},
      {"vaccine", "Vaccines", "A vaccine trains the immune system to recognise a virus."},
      {"guitar", "Electric guitars", "An electric guitar needs an amplifier to be heard."},
      {"tax", "Tax policy", "Income tax rates and inflation shape household budgets."},
      {"river", "Rivers", "A river carries sediment from mountains to the sea."}};
  private static final String[][] QUERIES = {
      {"q1", "how does a volcano erupt", "volcano"},
      {"q2", "which chess opening should black play", "chess"},
      {"q3", "why does bread dough rise", "bread"}};

  private static final EvalSettings SETTINGS = new EvalSettings(
      EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU),
      EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU), ChunkerConfig.defaults(),
      IndexConfig.DEFAULTS, io.d2search.index.Fusion.DEFAULT,
      0);

  private static final EvalRunner.TrainingWindows NO_TRAINING = new EvalRunner.TrainingWindows() {
    @Override
    public Optional<String> trainedSplit(io.d2search.bundle.ModelBundle bundle, String dataset) {
      return Optional.empty();
    }

    @Override
    public Optional<EvalReport.HeldOut> heldOut(io.d2search.bundle.ModelBundle bundle, String dataset, String split,
        io.d2search.data.BeirDataset data) {
      return Optional.empty();
    }
  };

  @TempDir Path dir;

  /** A teacher that counts the query's words in each passage, and remembers what was opened and closed. */
  private static final class OverlapTeachers implements EvalRunner.Teachers {
    final List<String> opened = new ArrayList<>();
    final List<String> closed = new ArrayList<>();

    @Override
    public EvalRunner.TeacherScorer precomputed(List<String> corpusTexts) {
      return scorer("precomputed");
    }

    @Override
    public EvalRunner.TeacherScorer uncached(List<String> corpusTexts) {
      return scorer("uncached");
    }

    private EvalRunner.TeacherScorer scorer(String kind) {
      opened.add(kind);
      return new EvalRunner.TeacherScorer() {
        @Override
        public double[] score(String query, List<String> passages) {
          Set<String> words = new HashSet<>(List.of(query.toLowerCase(Locale.ROOT).split("\\W+")));
          return passages.stream().mapToDouble(p -> List.of(p.toLowerCase(Locale.ROOT).split("\\W+")).stream()
              .filter(words::contains).count()).toArray();
        }

        @Override
        public void close() {
          closed.add(kind);
        }
      };
    }
  }

  private Path dataset() throws IOException {
    Path beir = Files.createDirectories(dir.resolve("tiny").resolve("qrels"));
    List<String> corpus = new ArrayList<>();
    for (String[] d : DOCS) {
      corpus.add("{\"_id\": \"" + d[0] + "\", \"title\": \"" + d[1] + "\", \"text\": \"" + d[2] + "\"}");
    }
    List<String> queries = new ArrayList<>();
    List<String> qrels = new ArrayList<>(List.of("query-id\tcorpus-id\tscore"));
    for (String[] q : QUERIES) {
      queries.add("{\"_id\": \"" + q[0] + "\", \"text\": \"" + q[1] + "\"}");
      qrels.add(q[0] + "\t" + q[2] + "\t1");
    }
    Files.write(beir.getParent().resolve("corpus.jsonl"), corpus);
    Files.write(beir.getParent().resolve("queries.jsonl"), queries);
    Files.write(beir.resolve("test.tsv"), qrels);
    return beir.getParent();
  }

  private static EvalRunner runner(EvalRunner.Teachers teachers, List<String> fingerprints, PrintStream progress) {
    return new EvalRunner(SETTINGS, version -> {
      throw new AssertionError("no student in these plans: " + version);
    }, (embedder, texts, fingerprint) -> {
      fingerprints.add(fingerprint);
      return PassageVectors.embed(embedder, texts, null, "embed");
    }, teachers, NO_TRAINING, progress);
  }

  @Test
  void runsTheRowsOfThePlanAsTypedRowsAndClosesWhatItOpened() throws IOException {
    Path beir = dataset();
    OverlapTeachers teachers = new OverlapTeachers();
    List<String> fingerprints = new ArrayList<>();
    ByteArrayOutputStream progress = new ByteArrayOutputStream();
    EvalReport report;
    try (PrintStream out = new PrintStream(progress, true, StandardCharsets.UTF_8)) {
      report = runner(teachers, fingerprints, out).run(EvalPlan.of(beir, "test")
          .withUnit(EvalPlan.Unit.WHOLE_DOCUMENTS).withRerankDepth(5).withTeacher(1));
    }

    Dense hnsw = new Dense(new BiEncoder("all-minilm-l6-v2"), Search.HNSW);
    BiEncoder bi = new BiEncoder("all-minilm-l6-v2");
    assertThat(report.rows()).extracting(RetrievalRow::system).containsExactly(new EvalSystem.Keyword(), hnsw,
        new Dense(bi, Search.EXACT), new EvalSystem.Hybrid(bi, "min-max score fusion"),
        new EvalSystem.Hybrid(bi, "RRF k=60"), new EvalSystem.TeacherRerank(5, hnsw));
    assertThat(report.labels()).containsExactly("keyword: BM25 (Lucene, English analyzer)",
        "bi-encoder (all-minilm-l6-v2, mean) HNSW", "bi-encoder (all-minilm-l6-v2, mean) exact",
        "bi-encoder (all-minilm-l6-v2, mean) hybrid (min-max score fusion)",
        "bi-encoder (all-minilm-l6-v2, mean) hybrid (RRF k=60)",
        "teacher re-rank top-5 of bi-encoder (all-minilm-l6-v2, mean) HNSW");
    assertThat(report.baseline()).isEqualTo(hnsw);
    assertThat(report.corpus()).isEqualTo(new EvalReport.Corpus("tiny", DOCS.length, DOCS.length,
        EvalPlan.Unit.WHOLE_DOCUMENTS, SETTINGS.embedder().maxTokens()));
    assertThat(report.queries()).isEqualTo(new EvalReport.QuerySet("test", Optional.empty(), QUERIES.length));
    assertThat(report.unseen()).isEmpty();
    assertThat(report.symmetric()).isEmpty();
    assertThat(report.coldTeacher()).hasValueSatisfying(cold -> {
      assertThat(cold.queries()).isEqualTo(1);
      assertThat(cold.candidates()).isEqualTo(5);
      assertThat(cold.msPerQuery()).isPositive();
    });
    for (RetrievalRow row : report.rows()) {
      assertThat(row.row().queries()).as(row.system().label()).isEqualTo(QUERIES.length);
      assertThat(row.row().ndcg10()).as(row.system().label()).isGreaterThan(0.5); // each query names its document
    }
    // The bi-encoder's vectors are cached under its backbone, max tokens and pooling, as before the library.
    assertThat(fingerprints).hasSize(1);
    assertThat(fingerprints.get(0)).matches("[0-9a-f]{16}-" + SETTINGS.embedder().maxTokens() + "-mean");
    assertThat(teachers.opened).containsExactly("precomputed", "uncached");
    assertThat(teachers.closed).containsExactlyInAnyOrder("precomputed", "uncached");

    // --plot: a PNG of nDCG@10 per system.
    Path png = Files.createTempFile("eval-plot", ".png");
    EvalPlot.write(report, png);
    java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isGreaterThanOrEqualTo(900);
    assertThat(image.getHeight()).isEqualTo(620);
    Files.delete(png);

    assertThat(progress.toString(StandardCharsets.UTF_8)).contains(
        "tiny (test split): " + DOCS.length + " documents, " + QUERIES.length + " queries, whole documents",
        DOCS.length + " passages", "embedding " + DOCS.length + " passages with bi-encoder (all-minilm-l6-v2, mean) on CPU",
        "cold teacher: query 1/1");
    assertThat(report.text()).contains("tiny, test split, all 3 queries, whole documents (title + text, "
        + SETTINGS.embedder().maxTokens() + " tokens)", "| keyword: BM25 (Lucene, English analyzer) ",
        "teacher re-ranking 5 candidates with nothing precomputed", "ms/query over 1 queries",
        "baseline = bi-encoder (all-minilm-l6-v2, mean) HNSW.", "gap closed = (row − baseline)");
  }

  @Test
  void chunkedPassagesWithoutTeacher() throws IOException {
    Path beir = dataset();
    OverlapTeachers teachers = new OverlapTeachers();
    EvalReport report = runner(teachers, new ArrayList<>(), new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8)).run(EvalPlan.of(beir, "test"));
    assertThat(report.labels()).containsExactly("keyword: BM25 (Lucene, English analyzer)",
        "bi-encoder (all-minilm-l6-v2, mean) HNSW", "bi-encoder (all-minilm-l6-v2, mean) exact",
        "bi-encoder (all-minilm-l6-v2, mean) hybrid (min-max score fusion)",
        "bi-encoder (all-minilm-l6-v2, mean) hybrid (RRF k=60)");
    assertThat(report.corpus().unit()).isEqualTo(EvalPlan.Unit.CHUNKED_PASSAGES);
    assertThat(report.corpus().maxTokens()).isEqualTo(SETTINGS.chunker().maxTokens());
    assertThat(report.teacher()).isEmpty();
    assertThat(report.coldTeacher()).isEmpty();
    assertThat(teachers.opened).isEmpty();
    assertThat(report.text()).contains("passages of " + SETTINGS.chunker().maxTokens()
        + " tokens, documents scored by their best passage").doesNotContain("gap closed");
  }

  @Test
  void heldOutQueriesNeedAStudentThatDefinesThem() throws IOException {
    Path beir = dataset();
    EvalRunner runner = runner(new OverlapTeachers(), new ArrayList<>(), new PrintStream(new ByteArrayOutputStream(),
        true, StandardCharsets.UTF_8));
    assertThatThrownBy(() -> runner.run(EvalPlan.of(beir, "test").withHeldOut(true)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no --student was trained on judged queries of tiny/test");
  }

  @Test
  void aPlanRefusesADepthBelowOne() {
    assertThatThrownBy(() -> EvalPlan.of(dir, "test").withRerankDepth(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> EvalPlan.of(dir, "test").withTeacher(-1)).isInstanceOf(IllegalArgumentException.class);
    EvalPlan plan = EvalPlan.of(dir, "test").withStudents(new ArrayList<>(List.of("0", "3")));
    assertThatThrownBy(() -> plan.students().add("4")).isInstanceOf(UnsupportedOperationException.class);
  }
}
