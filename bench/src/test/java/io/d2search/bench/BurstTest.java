package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BurstTest {
  /** Lag rising to a peak at 30 s and draining by 60 s, sampled four times a second. */
  private static List<Burst.Sample> samples() {
    List<Burst.Sample> samples = new ArrayList<>();
    for (int i = 0; i <= 240; i++) {
      double s = i / 4.0;
      long lag = s <= 30 ? Math.round(s * 100) : Math.max(0, Math.round((60 - s) * 100));
      samples.add(new Burst.Sample(s, lag / 4, lag - lag / 4, (100L + i % 7) << 20, 900L << 20));
    }
    return samples;
  }

  @Test
  void theSeriesHasADozenPointsWithThePeakAndTheEnd() {
    String series = PipelineBench.lagSeries(samples());
    String[] points = series.split(", (?=\\d+: )");
    assertThat(points.length).isBetween(12, 15);
    assertThat(points[0]).isEqualTo("0: 0");
    assertThat(series).contains("30: 3,000");
    assertThat(points[points.length - 1]).isEqualTo("60: 0");
  }

  @Test
  void theResultFindsThePeaks() {
    Burst.Result r = new Burst.Result(100, 270, 10, 60, samples(), 6L << 30);
    assertThat(r.peakLag().seconds()).isEqualTo(30.0);
    assertThat(r.peakLag().lag()).isEqualTo(3000);
    assertThat(r.peakHeap()).isEqualTo(106L << 20);
    assertThat(r.peakResident()).isEqualTo(900L << 20);
    assertThat(r.first().seconds()).isZero();
  }
}
