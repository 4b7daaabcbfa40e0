package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import io.d2search.data.BeirDataset;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.eval.EvalPassage;
import io.d2search.rank.IemHead;
import io.d2search.teach.Teacher;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distillation library on a small judged dataset, the real backbone and a lexical teacher: it writes the bundle
 * its plan describes, tells its listener each step as its report has it, prints nothing, and refuses what it cannot
 * run before reading any data.
 */
class DistillRunTest {
  private static final int MAX_TOKENS = 64;
  private static final String[] WORDS = {"protein", "cell", "cancer", "gene", "expression", "mice", "insulin",
      "virus", "vaccine", "neuron", "tumour", "bacteria", "lung", "heart", "kidney", "liver", "immune", "drug"};
  /** A log line of the test logging configuration: the only thing that may reach stdout. */
  private static final String LOG_LINE = "\\d\\d:\\d\\d:\\d\\d\\.\\d{3} .*";

  @TempDir
  Path tmp;

  /** Scores a passage by the share of the query's words it contains. */
  private static final class LexicalTeacher implements Teacher {
    @Override
    public String id() {
      return "lexical-test";
    }

    @Override
    public double[] score(String query, List<String> passages) {
      Set<String> words = new HashSet<>(Arrays.asList(query.split(" ")));
      return passages.stream().mapToDouble(p -> {
        Set<String> shared = new HashSet<>(Arrays.asList(p.split(" ")));
        shared.retainAll(words);
        return (double) shared.size() / words.size();
      }).toArray();
    }
  }

  @Test
  void writesTheBundleItsPlanDescribesAndTellsEachStepWithoutPrinting() throws IOException {
    Path beir = dataset(tmp.resolve("tiny"), new Random(11), 30, 12);
    ModelBundle parent = ModelBundle.versionZero(tmp.resolve("bundles"), BackboneSource.MINILM_L6_V2, MAX_TOKENS);
    Path caches = tmp.resolve("cache");
    DistillRun run = new DistillRun(new DistillRun.Environment(
        EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU),
        new DistillRun.Caches(caches.resolve("vectors"), caches.resolve("token-states")), 16, 100,
        texts -> new LexicalTeacher()));
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(1).withBatchSize(4).withSeed(3)
        .withProgress(TrainerConfig.Progress.NONE).withTrainPma(false);
    DistillPlan plan = new DistillPlan(beir, "train", tmp.resolve("bundles/1"), new DistillPlan.Mining(3, 2, 4),
        new DistillPlan.HeldOut(0.25, QuerySplit.Kind.RANDOM), new PseudoQueries(4, PseudoQueries.Kind.TITLE,
            PseudoQueries.Positive.OWN), true, null, IemHead.Input.INTERACTION_ONLY, null, LossConfig.d2llm(), trainer,
        null, true);

    List<DistillReport.Step> told = new ArrayList<>();
    DistillReport report;
    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      report = run.run(parent, plan, told::add);
    } finally {
      System.setOut(stdout);
    }

    assertThat(captured.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()))
        .as("only log lines on stdout").allMatch(l -> l.matches(LOG_LINE));
    assertThat(told).isEqualTo(report.steps());
    assertThat(report.steps()).hasSize(4).doesNotContainNull(); // no symmetric stage
    assertThat(report.data()).isEqualTo(new DistillReport.DataRead("tiny", "train", 30, 12, "0"));
    assertThat(report.queries()).isEqualTo(new DistillReport.QueriesDrawn(9, true, 3, QuerySplit.Kind.RANDOM, 4,
        false));
    assertThat(report.data().describe())
        .isEqualTo("tiny (train split): 30 documents, 12 queries with a positive; parent bundle 0");
    assertThat(report.queries().describe()).isEqualTo("9 training queries, 3 held out (random), 4 pseudo-queries");
    // A frozen PMA: epochs are compared by re-ranking the held-out queries' top 100 as eval does.
    assertThat(report.rerank().depth()).isEqualTo(DistillRun.RERANK_DEPTH);
    assertThat(report.rerank().describe())
        .startsWith("epochs compared by the held-out re-rank of the parent's top 100");
    assertThat(report.examples().train()).isEqualTo(13);
    assertThat(report.examples().heldOut()).isEqualTo(3);

    ModelBundle bundle = ModelBundle.load(tmp.resolve("bundles/1"));
    assertThat(report.bundle().checksum()).isEqualTo(bundle.checksum());
    assertThat(bundle.manifest().parent()).isEqualTo("0");
    assertThat(bundle.trainingWindow()).hasValue(report.window());
    assertThat(report.window()).isEqualTo(new TrainingWindow("beir", "tiny", "train", 12, true, 3, "random",
        new TrainingWindow.PseudoQueries(4, "document title", "its document"),
        new TrainingWindow.Negatives(3, 2, 4, "bundle 0 HNSW", "bm25")));
    assertThat(bundle.manifest().trainingSeed()).hasValue(3);
    assertThat(bundle.manifest().training()).containsEntry("teacher", "lexical-test")
        .containsEntry("selection", "held-out re-rank nDCG@" + RerankSelection.K);
    assertThat(report.summary().getFirst()).isEqualTo("bundle 1 written to " + tmp.resolve("bundles/1").toAbsolutePath()
        + " (best epoch " + report.result().report().bestEpoch() + " of 1)");
    assertThat(report.summary()).hasSize(1 + bundle.manifest().metrics().size());
    // The labelled lists are stored under the set-up's name, beside the vector cache.
    try (Stream<Path> labels = Files.list(caches.resolve("labels"))) {
      assertThat(labels.map(p -> p.getFileName().toString())).containsExactly(DistillRun.labelSetup("0",
          parent.checksum(), "lexical-test", corpusTexts(beir), plan.mining(), 16, 100) + ".jsonl");
    }
  }

  @Test
  void refusesARunThatCannotFitBeforeReadingAnything() {
    ModelBundle parent = ModelBundle.versionZero(tmp.resolve("bundles"), BackboneSource.MINILM_L6_V2, MAX_TOKENS);
    DistillRun run = new DistillRun(new DistillRun.Environment(EmbedderConfig.defaults(),
        new DistillRun.Caches(tmp.resolve("vectors"), tmp.resolve("states")), 16, 100, texts -> {
          throw new AssertionError("no teacher for a refused run");
        }));
    DistillPlan plan = new DistillPlan(tmp.resolve("missing"), "train", tmp.resolve("bundles/1"),
        new DistillPlan.Mining(15, 12, 100), new DistillPlan.HeldOut(0.1, QuerySplit.Kind.UNSEEN), PseudoQueries.none(),
        true, null, IemHead.Input.INTERACTION_ONLY, null, LossConfig.d2llm(),
        TrainerConfig.defaults().withBatchSize(4096).withProgress(TrainerConfig.Progress.NONE),
        new Distillation.BackboneTuning(6, 12), true);
    List<DistillReport.Step> told = new ArrayList<>();
    assertThatThrownBy(() -> run.run(parent, plan, told::add)).isInstanceOf(DistillRun.Refused.class)
        .hasMessageContaining("tuning 6 backbone layers at --batch-size 4096 needs about")
        .hasMessageContaining("--no-memory-check");
    assertThat(told).isEmpty();
    assertThat(tmp.resolve("bundles/1")).doesNotExist();
  }

  /** The corpus texts as the run embeds them (title, then text), in file order. */
  private static List<String> corpusTexts(Path beir) {
    return EvalPassage.texts(EvalPassage.wholeDocs(BeirDataset.load(beir, "train")));
  }

  /**
   * {@code docs} documents of random words with titles, and {@code queries} judged queries, each of a few words
   * of its own positive document.
   */
  private static Path dataset(Path dir, Random r, int docs, int queries) throws IOException {
    Files.createDirectories(dir.resolve("qrels"));
    List<String> corpus = new ArrayList<>();
    List<List<String>> texts = new ArrayList<>();
    for (int i = 0; i < docs; i++) {
      List<String> words = new ArrayList<>();
      for (int w = 0; w < 12; w++) {
        words.add(WORDS[r.nextInt(WORDS.length)]);
      }
      texts.add(words);
      corpus.add("{\"_id\": \"d" + i + "\", \"title\": \"Study number " + i + "\", \"text\": \""
          + String.join(" ", words) + "\"}");
    }
    List<String> queryLines = new ArrayList<>();
    List<String> qrels = new ArrayList<>(List.of("query-id\tcorpus-id\tscore"));
    for (int q = 0; q < queries; q++) {
      List<String> words = texts.get(q);
      queryLines.add("{\"_id\": \"q" + q + "\", \"text\": \"" + String.join(" ", words.subList(0, 3)) + "\"}");
      qrels.add("q" + q + "\td" + q + "\t1");
    }
    Files.write(dir.resolve("corpus.jsonl"), corpus);
    Files.write(dir.resolve("queries.jsonl"), queryLines);
    Files.write(dir.resolve("qrels/train.tsv"), qrels);
    return dir;
  }
}
