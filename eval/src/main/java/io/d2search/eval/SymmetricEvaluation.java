package io.d2search.eval;

import io.d2search.data.Snli;
import io.d2search.data.StsBenchmark;
import io.d2search.data.SymmetricData;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Evaluates a {@link PairScorer} on the symmetric side of the student: STS-B test Spearman's ρ, and SNLI
 * "entailment vs not" accuracy on test with the decision threshold chosen on dev (never on test).
 */
public final class SymmetricEvaluation {
  private SymmetricEvaluation() {}

  /** Scores the data with one scorer and returns its row. */
  public static SymmetricRow run(String system, PairScorer scorer, SymmetricData data) {
    Objects.requireNonNull(system, "system");
    Objects.requireNonNull(scorer, "scorer");
    if (data.stsTest().isEmpty() || data.snliDev().isEmpty() || data.snliTest().isEmpty()) {
      throw new IllegalArgumentException("every part of the symmetric data must hold pairs");
    }
    long start = System.nanoTime();
    double[] sts = scorer.score(data.stsTest().stream().map(StsBenchmark.Pair::sentence1).toList(),
        data.stsTest().stream().map(StsBenchmark.Pair::sentence2).toList());
    double[] dev = snliScores(scorer, data.snliDev());
    double[] test = snliScores(scorer, data.snliTest());
    double ms = (System.nanoTime() - start) / 1e6;
    double[] gold = data.stsTest().stream().mapToDouble(StsBenchmark.Pair::score).toArray();
    double rho = Correlation.spearman(checked(sts, gold.length), gold);
    DecisionThreshold threshold = DecisionThreshold.fit(dev, entailed(data.snliDev()));
    double accuracy = threshold.accuracy(test, entailed(data.snliTest()));
    int pairs = sts.length + dev.length + test.length;
    return new SymmetricRow(system, rho, sts.length, accuracy, threshold.value(), threshold.fitAccuracy(),
        test.length, ms / pairs);
  }

  /** Scores of the (premise, hypothesis) pairs. */
  private static double[] snliScores(PairScorer scorer, List<Snli.Pair> pairs) {
    double[] scores = scorer.score(pairs.stream().map(Snli.Pair::premise).toList(),
        pairs.stream().map(Snli.Pair::hypothesis).toList());
    return checked(scores, pairs.size());
  }

  /** The binary gold label: entailment is positive; neutral and contradiction are not. */
  static boolean[] entailed(List<Snli.Pair> pairs) {
    boolean[] positive = new boolean[pairs.size()];
    for (int i = 0; i < positive.length; i++) {
      positive[i] = pairs.get(i).label() == Snli.Label.ENTAILMENT;
    }
    return positive;
  }

  private static double[] checked(double[] scores, int expected) {
    if (scores.length != expected) {
      throw new IllegalStateException("scorer returned " + scores.length + " scores for " + expected + " pairs");
    }
    return scores;
  }

  /** A Markdown table of rows, in the style of {@link Evaluation#table}: metrics to 4 decimals. */
  public static String table(List<SymmetricRow> rows) {
    StringBuilder sb = new StringBuilder();
    int width = Math.max(6, rows.stream().mapToInt(r -> r.system().length()).max().orElse(6));
    String fmt = "| %-" + width + "s | %14s | %8s | %9s | %7s |%n";
    sb.append(String.format(Locale.ROOT, fmt, "system", "STS-B Spearman", "SNLI acc", "threshold", "ms/pair"));
    sb.append(String.format(Locale.ROOT, "|%s|----------------|----------|-----------|---------|%n",
        "-".repeat(width + 2)));
    for (SymmetricRow r : rows) {
      sb.append(String.format(Locale.ROOT, fmt, r.system(), f4(r.stsSpearman()), f4(r.snliAccuracy()),
          f4(r.snliThreshold()), String.format(Locale.ROOT, "%.2f", r.msPerPair())));
    }
    return sb.toString();
  }

  private static String f4(double x) {
    return String.format(Locale.ROOT, "%.4f", x);
  }
}
