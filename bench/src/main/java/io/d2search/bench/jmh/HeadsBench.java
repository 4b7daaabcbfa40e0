package io.d2search.bench.jmh;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs {@link HeadsBenchmark} with JMH and tabulates it: each IEM kernel's time per query next to the scalar one's
 * and Lucene's dot products' from the same run, and the PMA's time per text.
 */
public final class HeadsBench {

  /**
   * One measured benchmark.
   *
   * @param benchmark {@code iemRerank} or {@code pmaPool}
   * @param params its JMH parameters
   * @param micros mean µs per operation
   * @param error the 99.9% confidence half-width JMH reports, µs
   */
  public record Figure(String benchmark, Map<String, String> params, double micros, double error) {}

  /**
   * How long JMH measures.
   *
   * @param forks JVM forks per benchmark
   * @param warmups warm-up iterations of one second
   * @param iterations measured iterations of one second
   * @param verbose JMH's own progress lines on standard output
   */
  public record Settings(int forks, int warmups, int iterations, boolean verbose) {}

  private HeadsBench() {}

  /** Runs the benchmarks; JMH forks JVMs with this JVM's class path. */
  public static List<Figure> run(Settings settings) throws RunnerException {
    Collection<RunResult> results = new Runner(new OptionsBuilder()
        .include(HeadsBenchmark.class.getName() + "\\.")
        .forks(settings.forks())
        .warmupIterations(settings.warmups()).warmupTime(TimeValue.seconds(1))
        .measurementIterations(settings.iterations()).measurementTime(TimeValue.seconds(1))
        .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
        .verbosity(settings.verbose() ? VerboseMode.NORMAL : VerboseMode.SILENT)
        .build()).run();
    List<Figure> figures = new ArrayList<>();
    for (RunResult r : results) {
      String label = r.getParams().getBenchmark();
      Map<String, String> params = new java.util.TreeMap<>();
      for (String key : r.getParams().getParamsKeys()) {
        params.put(key, r.getParams().getParam(key));
      }
      figures.add(new Figure(label.substring(label.lastIndexOf('.') + 1), params,
          r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()));
    }
    return figures;
  }

  /** A Markdown table: the IEM kernels with their ratios, then the PMA. */
  public static String table(List<Figure> figures) {
    StringBuilder t = new StringBuilder();
    Figure scalar = iem(figures, "scalar");
    Figure dots = iem(figures, "lucene-dot");
    t.append("| head | variant | µs per operation (±99.9%) | speed-up vs scalar | speed-up vs lucene-dot |\n|---|---|---|---|---|\n");
    for (Figure f : figures) {
      if (f.benchmark().equals("iemRerank")) {
        t.append(String.format(Locale.ROOT, "| IEM, %s candidates, %s | %s | %.1f ± %.1f | %s | %s |%n",
            f.params().get("candidates"), f.params().get("input"), f.params().get("kernel"), f.micros(), f.error(),
            ratio(scalar, f), ratio(dots, f)));
      }
    }
    for (Figure f : figures) {
      if (f.benchmark().equals("pmaPool")) {
        t.append(String.format(Locale.ROOT, "| PMA, %s tokens | scalar, double precision | %.1f ± %.1f |  |  |%n",
            f.params().get("tokens"), f.micros(), f.error()));
      }
    }
    return t.toString();
  }

  /** How many times faster {@code f} is than {@code base} (base time / f's time). */
  private static String ratio(Figure base, Figure f) {
    return base == null ? "" : String.format(Locale.ROOT, "%.2f", base.micros() / f.micros());
  }

  private static Figure iem(List<Figure> figures, String kernel) {
    return figures.stream().filter(f -> f.benchmark().equals("iemRerank") && kernel.equals(f.params().get("kernel")))
        .findFirst().orElse(null);
  }
}
