package io.d2search.eval;

import io.d2search.data.Snli;
import io.d2search.data.StsBenchmark;
import io.d2search.data.SymmetricData;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.data.Snli.Label;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SymmetricEvaluationTest {
  /** A scorer that looks the hypothesis (second sentence) up in a table. */
  private static final Map<String, Double> SCORES = Map.ofEntries(
      Map.entry("s1", 1.0), Map.entry("s2", 2.0), Map.entry("s3", 3.0), Map.entry("s4", 4.0),
      Map.entry("d-no", 0.0), Map.entry("d-yes", 1.0),
      Map.entry("t-no1", 0.2), Map.entry("t-yes1", 0.8), Map.entry("t-no2", 2.0), Map.entry("t-yes2", 3.0));
  private static final PairScorer LOOKUP = (a, b) -> b.stream().mapToDouble(SCORES::get).toArray();

  @Test
  void spearmanOnStsAndSnliAccuracyWithTheDevThreshold() {
    SymmetricData data = new SymmetricData(
        List.of(new StsBenchmark.Pair("x", "s1", 0.5), new StsBenchmark.Pair("x", "s2", 2),
            new StsBenchmark.Pair("x", "s3", 1), new StsBenchmark.Pair("x", "s4", 5)),
        List.of(new Snli.Pair("p", "d-no", Label.CONTRADICTION), new Snli.Pair("p", "d-yes", Label.ENTAILMENT)),
        List.of(new Snli.Pair("p", "t-no1", Label.NEUTRAL), new Snli.Pair("p", "t-yes1", Label.ENTAILMENT),
            new Snli.Pair("p", "t-no2", Label.CONTRADICTION), new Snli.Pair("p", "t-yes2", Label.ENTAILMENT)));
    SymmetricRow row = SymmetricEvaluation.run("lookup", LOOKUP, data);
    assertThat(row.system()).isEqualTo("lookup");
    assertThat(row.stsSpearman()).isCloseTo(0.8, within(1e-12)); // ranks 1 2 3 4 vs 1 3 2 4
    assertThat(row.stsPairs()).isEqualTo(4);
    // dev puts the threshold at 0.5; test alone would choose 2.5 and score 1.0, but 0.5 gets 3 of 4 right
    assertThat(row.snliThreshold()).isCloseTo(0.5, within(1e-12));
    assertThat(row.snliDevAccuracy()).isEqualTo(1.0);
    assertThat(row.snliAccuracy()).isEqualTo(0.75);
    assertThat(row.snliPairs()).isEqualTo(4);
    assertThat(row.msPerPair()).isNotNegative();
  }

  @Test
  void tableIsMarkdownWithFourDecimals() {
    String table = SymmetricEvaluation.table(List.of(
        new SymmetricRow("bi-encoder (all-minilm-l6-v2, mean) cosine", 0.82031, 1379, 0.71234, 0.5, 0.73, 1254, 1.234)));
    String[] lines = table.split("\n");
    assertThat(lines).hasSize(3);
    assertThat(lines[0]).startsWith("| system").contains("STS-B Spearman", "SNLI acc", "threshold", "ms/pair");
    assertThat(lines[1]).matches("\\|-+\\|-+\\|-+\\|-+\\|-+\\|");
    assertThat(lines[2]).contains("0.8203", "0.7123", "0.5000", "1.23");
    assertThat(lines[0]).hasSameSizeAs(lines[1]).hasSameSizeAs(lines[2]);
  }

  @Test
  void entailmentIsTheOnlyPositiveLabel() {
    assertThat(SymmetricEvaluation.entailed(List.of(new Snli.Pair("p", "h", Label.ENTAILMENT),
        new Snli.Pair("p", "h", Label.NEUTRAL), new Snli.Pair("p", "h", Label.CONTRADICTION))))
        .containsExactly(true, false, false);
  }
}
