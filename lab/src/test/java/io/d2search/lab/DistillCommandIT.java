package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import io.d2search.data.BeirDataset;
import io.d2search.distill.PseudoQueries;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code distill} then {@code eval} end to end on a slice of SciFact (real queries, judgements and abstracts; the
 * real teacher, backbone and trainer), small enough for CI: the new bundle loads, records its training, and
 * {@code eval} prints the student, IEM, teacher and unseen-subset rows.
 */
class DistillCommandIT {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  @TempDir Path dir;

  @Test
  @Timeout(900)
  void distilsABundleFromJudgedDataAndEvaluatesIt() throws Exception {
    Path scifact = Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
    Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    Path slice = slice(scifact, dir.resolve("scifact-slice"), 48, 16, 120);
    Path config = Files.writeString(dir.resolve("d2search.properties"), "data.dir=" + dir.resolve("data") + "\n");

    String distill = run("distill", "--config", config.toString(), "--beir", slice.toString(), "--out",
        dir.resolve("data/bundles/1").toString(), "--epochs", "3", "--batch-size", "8", "--negatives", "3",
        "--dense-negatives", "2", "--negative-depth", "20");
    assertThat(distill).contains("bundle 1 written");
    ModelBundle bundle = ModelBundle.load(dir.resolve("data/bundles/1"));
    assertThat(bundle.manifest().parent()).isEqualTo("0");
    assertThat(bundle.iem()).isPresent();
    assertThat(bundle.manifest().training()).containsKeys("teacher", "loss", "trainer", "data")
        .containsEntry("iemInit", "cosine");
    TrainingWindow data = bundle.trainingWindow().orElseThrow();
    assertThat(data.split()).isEqualTo("train");
    assertThat(data.heldOutKind()).isEqualTo("unseen");
    assertThat(data.negatives().fromIndex()).isEqualTo(2);
    assertThat(data.negatives().indexDepth()).isEqualTo(20);
    assertThat(bundle.manifest().metrics()).containsKeys("heldOut.mrr.iem", "heldOut.mrr.teacher");

    String eval = run("eval", "--config", config.toString(), "--beir", slice.toString(), "--whole-docs",
        "--student", "0", "--student", "1", "--teacher", "--teacher-cold-queries", "1");
    assertThat(eval).contains("student v1 (pma) HNSW", "student v1 + IEM re-rank top-100",
        "teacher re-rank top-100 of student v0 (pma) HNSW", "gap closed", "queries unseen by v1",
        "with nothing precomputed", "% of it");
    // The slice distill held out, drawn again: bundles compared on it without the test split.
    String heldOut = run("eval", "--config", config.toString(), "--beir", slice.toString(), "--split", "train",
        "--held-out", "--whole-docs", "--student", "0", "--student", "1");
    assertThat(heldOut).contains("train split, held out by v1 (unseen), all " + data.heldOutQueries() + " queries",
        "student v1 + IEM re-rank top-100").doesNotContain("queries unseen by");

    // Pseudo-queries alone, the judged queries only held out: no judgement is a training answer. Their positives
    // are the teacher's pick, their own documents left out of their lists.
    String pseudo = run("distill", "--config", config.toString(), "--beir", slice.toString(), "--out",
        dir.resolve("data/bundles/2").toString(), "--epochs", "2", "--batch-size", "8", "--negatives", "3",
        "--dense-negatives", "2", "--no-train-pma", "--no-judged-training", "--pseudo-queries", "24",
        "--pseudo-query-kind", "sentence", "--pseudo-positive", "teacher", "--held-out", "0.5");
    assertThat(pseudo).contains("(not used: --no-judged-training)", "24 pseudo-queries (positives picked by the "
        + "teacher)", "bundle 2 written");
    TrainingWindow pseudoData = ModelBundle.load(dir.resolve("data/bundles/2")).trainingWindow().orElseThrow();
    assertThat(pseudoData.judgedTraining()).isFalse();
    assertThat(pseudoData.pseudoQueries().count()).isEqualTo(24);
    assertThat(pseudoData.pseudoQueries().positive())
        .isEqualTo("the teacher's best of K + 1 mined, its document left out");
    Map<String, String> sourceOf = new LinkedHashMap<>();
    for (String line : Files.readAllLines(slice.resolve("corpus.jsonl"))) {
      JsonNode doc = JSON.readTree(line);
      String sentence = PseudoQueries.lastSentence(doc.get("text").asText(), 8, 40);
      if (sentence != null) {
        sourceOf.put(sentence, doc.get("_id").asText());
      }
    }
    List<JsonNode> unjudgedLists = new ArrayList<>();
    try (var files = Files.walk(dir.resolve("data/cache/labels"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".jsonl")).toList()) {
        for (String line : Files.readAllLines(file)) {
          JsonNode entry = JSON.readTree(line);
          if (entry.get("positives").isEmpty()) {
            unjudgedLists.add(entry);
          }
        }
      }
    }
    assertThat(unjudgedLists).hasSize(24).allSatisfy(entry -> {
      assertThat(entry.get("negatives")).hasSize(4); // K + 1: the teacher's pick and K negatives
      List<String> candidates = new ArrayList<>();
      entry.get("negatives").forEach(n -> candidates.add(n.asText()));
      assertThat(sourceOf).containsKey(entry.get("text").asText());
      assertThat(candidates).doesNotContain(sourceOf.get(entry.get("text").asText()));
    });

    // The top backbone layer tuned too: the bundle carries its own graph, and eval embeds the corpus with it.
    String tuned = run("distill", "--config", config.toString(), "--beir", slice.toString(), "--out",
        dir.resolve("data/bundles/3").toString(), "--epochs", "1", "--batch-size", "8", "--negatives", "3",
        "--dense-negatives", "2", "--no-train-pma", "--tune-layers", "1");
    assertThat(tuned).contains("bundle 3 written");
    ModelBundle tunedBundle = ModelBundle.load(dir.resolve("data/bundles/3"));
    assertThat(tunedBundle.manifest().backbone().id()).isEqualTo("all-minilm-l6-v2+tuned-top1");
    assertThat(tunedBundle.backbone().onnx()).startsWith(dir.resolve("data/bundles/3").toString());
    assertThat(run("eval", "--config", config.toString(), "--beir", slice.toString(), "--whole-docs",
        "--student", "0", "--student", "3")).contains("student v3 (pma) HNSW", "student v3 + IEM re-rank top-100");
  }

  /**
   * The first {@code trainQueries} train and {@code testQueries} test queries with a judgement, all their judged
   * documents, and {@code others} more documents as distractors.
   */
  private static Path slice(Path from, Path to, int trainQueries, int testQueries, int others) throws IOException {
    Files.createDirectories(to.resolve("qrels"));
    Map<String, Map<String, Integer>> train = first(BeirDataset.readQrels(from.resolve("qrels/train.tsv")), trainQueries);
    Map<String, Map<String, Integer>> test = first(BeirDataset.readQrels(from.resolve("qrels/test.tsv")), testQueries);
    writeQrels(to.resolve("qrels/train.tsv"), train);
    writeQrels(to.resolve("qrels/test.tsv"), test);
    Set<String> docs = new LinkedHashSet<>();
    train.values().forEach(j -> docs.addAll(j.keySet()));
    test.values().forEach(j -> docs.addAll(j.keySet()));
    Set<String> queries = new LinkedHashSet<>(train.keySet());
    queries.addAll(test.keySet());
    List<String> corpus = new ArrayList<>();
    int extra = 0;
    for (String line : Files.readAllLines(from.resolve("corpus.jsonl"))) {
      JsonNode doc = JSON.readTree(line);
      if (docs.contains(doc.get("_id").asText()) || extra++ < others) {
        corpus.add(line);
      }
    }
    Files.write(to.resolve("corpus.jsonl"), corpus);
    List<String> kept = new ArrayList<>();
    for (String line : Files.readAllLines(from.resolve("queries.jsonl"))) {
      if (queries.contains(JSON.readTree(line).get("_id").asText())) {
        kept.add(line);
      }
    }
    Files.write(to.resolve("queries.jsonl"), kept);
    return to;
  }

  private static Map<String, Map<String, Integer>> first(Map<String, Map<String, Integer>> qrels, int n) {
    Map<String, Map<String, Integer>> out = new LinkedHashMap<>();
    qrels.entrySet().stream().limit(n).forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  private static void writeQrels(Path file, Map<String, Map<String, Integer>> qrels) throws IOException {
    List<String> lines = new ArrayList<>(List.of("query-id\tcorpus-id\tscore"));
    qrels.forEach((q, judged) -> judged.forEach((d, rel) -> lines.add(q + "\t" + d + "\t" + rel)));
    Files.write(file, lines);
  }

  private static String run(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      int exit = LabMain.commandLine().execute(args);
      assertThat(exit).as("exit of %s", String.join(" ", args)).isZero();
    } finally {
      System.setOut(original);
    }
    String text = out.toString(StandardCharsets.UTF_8);
    original.print(text);
    return text;
  }
}
