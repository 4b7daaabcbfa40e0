package io.d2search.lab;

import io.d2search.app.ConfigOptions;
import io.d2search.config.Settings;
import io.d2search.eval.EvalPlan;
import io.d2search.eval.EvalPlot;
import io.d2search.eval.EvalReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code eval}: parses the options into an {@link EvalPlan}, runs it with the lab's environment
 * ({@link EvalEnvironment}: bundles, caches, teacher, training windows) and prints the {@link EvalReport}. The
 * pipeline itself is eval's {@link io.d2search.eval.EvalRunner}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate BM25, the bi-encoder, student bundles and the teacher on BEIR-format data: nDCG@10, "
        + "Recall@100, MRR@10, ms/query, gap closed.")
final class EvalCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
  Path beir;

  @Option(names = "--split", defaultValue = "test", description = "Qrels split to evaluate (default: ${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--held-out",
      description = "Evaluate on the held-out queries distill drew from --split for the --student bundles (drawn again "
          + "from their manifest; they must share one slice) instead of the whole split: compares bundles on queries "
          + "none of them trained on, without the test split. Needs --split to be their training split.")
  boolean heldOut;

  @Option(names = "--whole-docs",
      description = "Embed each document whole (title + text, truncated at model.max-tokens) as BEIR does, "
          + "instead of chunking it into passages like the indexer.")
  boolean wholeDocs;

  @Mixin CacheOptions caches;

  @Option(names = "--no-cache", description = "Embed everything again; neither read nor write the vector cache.")
  boolean noCache;

  @Option(names = "--student", paramLabel = "VERSION",
      description = "Also evaluate the student of this model bundle (a version under setting model.bundles-dir, or "
          + "a bundle directory); repeatable. A bundle with an IEM adds a row re-ranking its HNSW top "
          + "--rerank-depth. Version 0 (PMA in its mean-pooling initialisation) is created when missing.")
  List<String> students = new ArrayList<>();

  @Option(names = "--teacher",
      description = "Add the teacher's re-rank of the baseline's HNSW top --rerank-depth (baseline: student v0 when "
          + "given, else the bi-encoder), and the gap-closed column.")
  boolean teacher;

  @Option(names = "--rerank-depth", defaultValue = "100",
      description = "Documents re-ranked per query by the IEM and the teacher (default: ${DEFAULT-VALUE}).")
  int rerankDepth;

  @Option(names = "--teacher-cold-queries", defaultValue = "3",
      description = "With --teacher, also time this many queries of a teacher that encodes its candidates at query "
          + "time, as a cross-encoder teacher must (0: skip; default: ${DEFAULT-VALUE}).")
  int teacherColdQueries;

  @Option(names = "--symmetric", paramLabel = "DIR",
      description = "Also the symmetric tasks from this data directory (stsb/, snli/): STS-B test Spearman and SNLI "
          + "test entailment accuracy (threshold chosen on SNLI dev), for the bi-encoder's and each student's cosine "
          + "and each student IEM's symmetric branch.")
  Path symmetric;

  @Option(names = "--plot", paramLabel = "FILE.png",
      description = "Also draw nDCG@10 per system with its 95%% bootstrap interval (all and unseen queries) as a PNG.")
  Path plot;

  @Override
  public Integer call() throws IOException {
    Settings settings = config.settings();
    EvalPlan plan = new EvalPlan(beir, split, heldOut,
        wholeDocs ? EvalPlan.Unit.WHOLE_DOCUMENTS : EvalPlan.Unit.CHUNKED_PASSAGES, students, rerankDepth,
        teacher ? Optional.of(new EvalPlan.TeacherRun(teacherColdQueries)) : Optional.empty(),
        Optional.ofNullable(symmetric));
    EvalReport report = EvalEnvironment.runner(settings, caches.dirs(settings), noCache, System.out).run(plan);
    System.out.print(report.text());
    if (plot != null) {
      EvalPlot.write(report, plot);
      System.out.println("plot written to " + plot);
    }
    return 0;
  }
}
