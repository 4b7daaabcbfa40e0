package io.d2search.bench.jmh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.nn.MatMul;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeadsBenchTest {

  private static HeadsBench.Figure iem(String kernel, double micros) {
    return new HeadsBench.Figure("iemRerank", Map.of("kernel", kernel, "candidates", "100", "input",
        "interaction-only"), micros, micros / 100);
  }

  @Test
  void tabulatesEachKernelsSpeedUpOverTheScalarAndLuceneKernelsOfTheSameRun() {
    String table = HeadsBench.table(List.of(iem("scalar", 9000), iem("lucene-dot", 3000), iem("panama-4x4", 1000),
        new HeadsBench.Figure("pmaPool", Map.of("tokens", "256"), 120.5, 1.5)));
    assertThat(table.lines()).containsSequence(
        "| IEM, 100 candidates, interaction-only | scalar | 9000.0 ± 90.0 | 1.00 | 0.33 |",
        "| IEM, 100 candidates, interaction-only | lucene-dot | 3000.0 ± 30.0 | 3.00 | 1.00 |",
        "| IEM, 100 candidates, interaction-only | panama-4x4 | 1000.0 ± 10.0 | 9.00 | 3.00 |",
        "| PMA, 256 tokens | scalar, double precision | 120.5 ± 1.5 |  |  |");
  }

  @Test
  void theBenchmarkNamesEveryKernelThisJvmHas() {
    assertThat(HeadsBenchmark.kernel("scalar")).isSameAs(MatMul.scalar());
    assertThat(HeadsBenchmark.kernel("lucene-dot")).isSameAs(MatMul.dotProducts());
    assertThat(HeadsBenchmark.kernel("panama-4x4")).isSameAs(MatMul.panama());
    assertThatThrownBy(() -> HeadsBenchmark.kernel("gpu")).hasMessageContaining("no kernel gpu");
  }
}
