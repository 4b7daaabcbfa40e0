package io.d2search.eval;

import io.d2search.eval.EvalReport.RetrievalRow;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * {@code eval --plot FILE.png}: nDCG@10 per system, with a 95% bootstrap interval of the mean over the queries, on all
 * queries and, when the report has them, on the queries unseen in training; one bar group per row of the table.
 */
public final class EvalPlot {
  private static final long SEED = 20261207L;

  private EvalPlot() {}

  /** Writes the chart as a PNG. */
  public static void write(EvalReport report, Path png) throws IOException {
    List<String> systems = new ArrayList<>();
    report.rows().forEach(r -> systems.add(r.system().label()));
    CategoryChart chart = new CategoryChartBuilder().width(Math.max(900, 140 * systems.size())).height(620)
        .title(report.corpus().dataset() + ", " + report.queries().description() + ": nDCG@10 (95% bootstrap interval)")
        .xAxisTitle("system").yAxisTitle("nDCG@10").build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setXAxisLabelRotation(35);
    chart.getStyler().setYAxisMin(0.0);
    chart.getStyler().setYAxisMax(1.0);
    chart.getStyler().setErrorBarsColor(java.awt.Color.DARK_GRAY);
    addSeries(chart, "all " + report.queries().count() + " queries", report.rows(), null, systems);
    report.unseen().filter(u -> !u.queryIds().isEmpty()).ifPresent(u ->
        addSeries(chart, "unseen " + u.queryIds().size() + " queries", report.rows(), u.queryIds(), systems));
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static void addSeries(CategoryChart chart, String name, List<RetrievalRow> rows, Set<String> subset,
      List<String> systems) {
    List<Double> means = new ArrayList<>();
    List<Double> errors = new ArrayList<>();
    for (RetrievalRow row : rows) {
      double[] ndcg = row.run().perQuery().entrySet().stream()
          .filter(e -> subset == null || subset.contains(e.getKey()))
          .mapToDouble(e -> e.getValue().ndcg10()).toArray();
      // The interval of the mean: the paired bootstrap of the values against zero.
      PairedBootstrap.Interval interval = PairedBootstrap.meanDifference(ndcg, new double[ndcg.length], SEED);
      means.add(interval.mean());
      errors.add((interval.high() - interval.low()) / 2);
    }
    chart.addSeries(name, systems, means, errors);
  }
}
