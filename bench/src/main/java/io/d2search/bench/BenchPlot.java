package io.d2search.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** {@code bench --plot FILE.png}: search latency p50 and p99 per retrieval mode and over HTTP, from one run. */
public final class BenchPlot {
  private BenchPlot() {}

  /**
   * @param latencyMs what was measured → {p50, p99} in ms, in the order to draw
   * @param title the chart's title (the machine and corpus, say)
   */
  public static void write(Map<String, double[]> latencyMs, String title, Path png) throws IOException {
    if (latencyMs.isEmpty()) {
      throw new IllegalArgumentException("nothing to plot");
    }
    List<String> what = new ArrayList<>(latencyMs.keySet());
    List<Double> p50 = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    latencyMs.values().forEach(v -> {
      p50.add(v[0]);
      p99.add(v[1]);
    });
    CategoryChart chart = new CategoryChartBuilder().width(900).height(560).title(title)
        .xAxisTitle("search").yAxisTitle("latency (ms)").build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setYAxisMin(0.0);
    chart.addSeries("p50", what, p50);
    chart.addSeries("p99", what, p99);
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
