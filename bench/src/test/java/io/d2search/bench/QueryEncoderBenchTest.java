package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class QueryEncoderBenchTest {

  @Test
  void theTableGivesTheCandidatesMeanAsARatioToTheBaselines() {
    String table = new QueryEncoderBench.Report(300, new QueryEncoderBench.Row("all-minilm-l6-v2", 4.0, 9.0, 5.0),
        new QueryEncoderBench.Row("all-minilm-l6-v2-q", 2.0, 4.5, 2.5), 0.98765, 0.9512).markdown();
    assertThat(table.lines()).contains(
        "| all-minilm-l6-v2 (baseline) | 4.00 | 9.00 | 5.00 | 1.00× |",
        "| all-minilm-l6-v2-q | 2.00 | 4.50 | 2.50 | 0.50× |",
        "cosine(candidate, baseline) of a query's vector: mean 0.9877, min 0.9512");
    assertThat(table).startsWith("| query encoder (300 queries, one at a time) |");
  }
}
