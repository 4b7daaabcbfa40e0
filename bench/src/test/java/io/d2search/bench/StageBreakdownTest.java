package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class StageBreakdownTest {
  @Test
  void theMedianIgnoresOneSlowFirstCallThatMovesTheMean() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      // As the query service registers its stage timers.
      Timer serialize = Timer.builder("d2search.search.stage").tag("stage", "serialize").publishPercentileHistogram()
          .register(registry);
      serialize.record(Duration.ofSeconds(2)); // the first call: class loading, JIT
      for (int i = 0; i < 99; i++) {
        serialize.record(Duration.ofMillis(1));
      }
      assertThat(serialize.mean(java.util.concurrent.TimeUnit.MILLISECONDS)).isGreaterThan(20);
      double median = PipelineBench.medianBound(serialize);
      assertThat(median).isBetween(1.0, 1.5);
      assertThat(PipelineBench.stageBreakdown(registry)).startsWith("serialize 20.990 (p50 ≤ ");
    } finally {
      registry.close();
    }
  }
}
