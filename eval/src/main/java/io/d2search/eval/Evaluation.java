package io.d2search.eval;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Runs retrievers over the judged queries of a dataset and prints one table. */
public final class Evaluation {
  /** Documents retrieved per query: enough for Recall@100. */
  public static final int DEPTH = 100;

  private Evaluation() {}

  /** Queries run untimed before measuring, so JIT compilation does not land on the first row. */
  private static final int WARM_UP = 10;

  /** Mean nDCG@10, Recall@100, MRR@10 and time per query of one retriever over the given queries. */
  public static EvalRow run(Retriever retriever, Map<String, String> queries, Map<String, Map<String, Integer>> qrels) {
    queries.values().stream().limit(WARM_UP).forEach(q -> retriever.search(q, DEPTH));
    double ndcg = 0;
    double recall = 0;
    double mrr = 0;
    long nanos = 0;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(retriever.name()).setInitialMax(queries.size())
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).build()) {
      for (Map.Entry<String, String> q : queries.entrySet()) {
        long start = System.nanoTime();
        List<String> ranking = retriever.search(q.getValue(), DEPTH).stream().map(ScoredDoc::docId).toList();
        nanos += System.nanoTime() - start;
        Map<String, Integer> judged = qrels.get(q.getKey());
        ndcg += RankingMetrics.ndcg(ranking, judged, 10);
        recall += RankingMetrics.recall(ranking, judged, 100);
        mrr += RankingMetrics.mrr(ranking, judged, 10);
        bar.step();
      }
    }
    int n = Math.max(1, queries.size());
    return new EvalRow(retriever.name(), ndcg / n, recall / n, mrr / n, nanos / 1e6 / n, queries.size());
  }

  /**
   * Share of the teacher's advantage over the baseline that a student recovers:
   * {@code (student − baseline) / (teacher − baseline)}; NaN when the teacher is no better than the baseline.
   */
  public static double gapClosed(double student, double baseline, double teacher) {
    double gap = teacher - baseline;
    return gap > 0 ? (student - baseline) / gap : Double.NaN;
  }

  /** A Markdown table of rows, metrics to 4 decimals. */
  public static String table(List<EvalRow> rows) {
    StringBuilder sb = new StringBuilder();
    int width = Math.max(6, rows.stream().mapToInt(r -> r.system().length()).max().orElse(6));
    String fmt = "| %-" + width + "s | %7s | %10s | %6s | %8s |%n";
    sb.append(String.format(Locale.ROOT, fmt, "system", "nDCG@10", "Recall@100", "MRR@10", "ms/query"));
    sb.append(String.format(Locale.ROOT, "|%s|---------|------------|--------|----------|%n", "-".repeat(width + 2)));
    for (EvalRow r : rows) {
      sb.append(String.format(Locale.ROOT, fmt, r.system(), f4(r.ndcg10()), f4(r.recall100()), f4(r.mrr10()),
          String.format(Locale.ROOT, "%.2f", r.msPerQuery())));
    }
    return sb.toString();
  }

  private static String f4(double x) {
    return String.format(Locale.ROOT, "%.4f", x);
  }
}
