package io.d2search.eval;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;
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
    return runPerQuery(retriever, queries, qrels).row();
  }

  /** Metrics and time of one query. */
  public record QueryMetrics(double ndcg10, double recall100, double mrr10, double millis) {}

  /**
   * One retriever's results query by query, so that rows over subsets of the queries (e.g. the unseen ones) come
   * from the same run.
   */
  public record Run(String system, Map<String, QueryMetrics> perQuery) {
    public Run {
      perQuery = Collections.unmodifiableMap(new LinkedHashMap<>(perQuery));
    }

    /** The row over every query. */
    public EvalRow row() {
      return row(perQuery.keySet());
    }

    /** The row over these queries (ids without results are ignored). */
    public EvalRow row(Set<String> queryIds) {
      double ndcg = 0;
      double recall = 0;
      double mrr = 0;
      double ms = 0;
      int n = 0;
      for (String id : queryIds) {
        QueryMetrics m = perQuery.get(id);
        if (m != null) {
          ndcg += m.ndcg10();
          recall += m.recall100();
          mrr += m.mrr10();
          ms += m.millis();
          n++;
        }
      }
      int d = Math.max(1, n);
      return new EvalRow(system, ndcg / d, recall / d, mrr / d, ms / d, n);
    }
  }

  /** Runs the retriever over every query (after a short untimed warm-up) and keeps each query's metrics. */
  public static Run runPerQuery(Retriever retriever, Map<String, String> queries,
      Map<String, Map<String, Integer>> qrels) {
    queries.values().stream().limit(WARM_UP).forEach(q -> retriever.search(q, DEPTH));
    Map<String, QueryMetrics> out = new LinkedHashMap<>();
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(retriever.name()).setInitialMax(queries.size())
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).build()) {
      for (Map.Entry<String, String> q : queries.entrySet()) {
        long start = System.nanoTime();
        List<String> ranking = retriever.search(q.getValue(), DEPTH).stream().map(ScoredDoc::docId).toList();
        double ms = (System.nanoTime() - start) / 1e6;
        Map<String, Integer> judged = qrels.get(q.getKey());
        out.put(q.getKey(), new QueryMetrics(RankingMetrics.ndcg(ranking, judged, 10),
            RankingMetrics.recall(ranking, judged, 100), RankingMetrics.mrr(ranking, judged, 10), ms));
        bar.step();
      }
    }
    return new Run(retriever.name(), out);
  }

  /**
   * Share of the teacher's advantage over the baseline that a student recovers:
   * {@code (student − baseline) / (teacher − baseline)}; NaN when the teacher is no better than the baseline.
   */
  public static double gapClosed(double student, double baseline, double teacher) {
    double gap = teacher - baseline;
    return gap > 0 ? (student - baseline) / gap : Double.NaN;
  }

  /** Seeds the bootstrap of {@link #ndcgDifference}, so that a table is the same every run. */
  private static final long BOOTSTRAP_SEED = 20_241_124L;

  /**
   * nDCG@10 of {@code system} minus {@code baseline} over the queries both ran (within {@code subset}, null: all),
   * with its 95% paired bootstrap interval.
   *
   * @throws IllegalArgumentException if the two runs share no query
   */
  public static PairedBootstrap.Interval ndcgDifference(Run system, Run baseline, Set<String> subset) {
    List<String> ids = system.perQuery().keySet().stream().filter(baseline.perQuery()::containsKey)
        .filter(id -> subset == null || subset.contains(id)).toList();
    if (ids.isEmpty()) {
      throw new IllegalArgumentException(system.system() + " and " + baseline.system() + " share no query");
    }
    double[] a = ids.stream().mapToDouble(id -> system.perQuery().get(id).ndcg10()).toArray();
    double[] b = ids.stream().mapToDouble(id -> baseline.perQuery().get(id).ndcg10()).toArray();
    return PairedBootstrap.meanDifference(a, b, BOOTSTRAP_SEED);
  }

  /** A Markdown table of rows, metrics to 4 decimals. */
  public static String table(List<EvalRow> rows) {
    return table(rows, Map.of(), Map.of());
  }

  /**
   * A Markdown table of rows, metrics to 4 decimals, with a "gap closed" column when {@code gapClosed} (by system
   * name) is not empty, and a column of nDCG@10 differences with their intervals when {@code versusBaseline} (by
   * system name; see {@link #ndcgDifference}) is not empty: {@code +0.0123 [-0.0040, +0.0290]}, starred when the
   * interval excludes zero.
   */
  public static String table(List<EvalRow> rows, Map<String, Double> gapClosed,
      Map<String, PairedBootstrap.Interval> versusBaseline) {
    StringBuilder sb = new StringBuilder();
    int width = Math.max(6, rows.stream().mapToInt(r -> r.system().length()).max().orElse(6));
    boolean gap = !gapClosed.isEmpty();
    boolean delta = !versusBaseline.isEmpty();
    String fmt = "| %-" + width + "s | %7s | %10s | %6s | %8s |" + (gap ? " %10s |" : "%s") + (delta ? " %-28s |" : "%s")
        + "%n";
    sb.append(String.format(Locale.ROOT, fmt, "system", "nDCG@10", "Recall@100", "MRR@10", "ms/query",
        gap ? "gap closed" : "", delta ? "Δ nDCG@10 vs baseline [95%]" : ""));
    sb.append(String.format(Locale.ROOT, "|%s|---------|------------|--------|----------|%s%s%n", "-".repeat(width + 2),
        gap ? "------------|" : "", delta ? "-".repeat(30) + "|" : ""));
    for (EvalRow r : rows) {
      Double g = gapClosed.get(r.system());
      PairedBootstrap.Interval d = versusBaseline.get(r.system());
      sb.append(String.format(Locale.ROOT, fmt, r.system(), f4(r.ndcg10()), f4(r.recall100()), f4(r.mrr10()),
          String.format(Locale.ROOT, "%.2f", r.msPerQuery()),
          !gap ? "" : g == null || g.isNaN() ? "" : String.format(Locale.ROOT, "%.0f%%", 100 * g),
          !delta || d == null ? "" : String.format(Locale.ROOT, "%+.4f [%+.4f, %+.4f]%s", d.mean(), d.low(), d.high(),
              d.excludesZero() ? " *" : "")));
    }
    return sb.toString();
  }

  private static String f4(double x) {
    return String.format(Locale.ROOT, "%.4f", x);
  }
}
