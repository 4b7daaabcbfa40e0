package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.index.Hit;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class PercentilesTest {

  @Test
  void nearestRankOnOneToHundred() {
    long[] samples = LongStream.rangeClosed(1, 100).toArray();
    shuffle(samples, new Random(7));
    Percentiles p = Percentiles.of(samples);
    assertThat(p.p50()).isEqualTo(50);
    assertThat(p.p99()).isEqualTo(99);
    assertThat(p.percentile(100)).isEqualTo(100);
    assertThat(p.percentile(0.5)).isEqualTo(1);
    assertThat(p.min()).isEqualTo(1);
    assertThat(p.max()).isEqualTo(100);
    assertThat(p.mean()).isEqualTo(50.5);
    assertThat(p.count()).isEqualTo(100);
  }

  @Test
  void smallSetsGiveMeasuredValues() {
    Percentiles one = Percentiles.of(new long[] {42});
    assertThat(one.p50()).isEqualTo(42);
    assertThat(one.p99()).isEqualTo(42);

    // n = 4: p50 is rank ceil(2) = 2, p99 is rank ceil(3.96) = 4.
    Percentiles four = Percentiles.of(new long[] {40, 10, 30, 20});
    assertThat(four.p50()).isEqualTo(20);
    assertThat(four.p99()).isEqualTo(40);

    // n = 50: p99 is rank ceil(49.5) = 50, the maximum.
    Percentiles fifty = Percentiles.of(LongStream.rangeClosed(1, 50).toArray());
    assertThat(fifty.p99()).isEqualTo(50);
    assertThat(fifty.p50()).isEqualTo(25);
  }

  @Test
  void percentilesAreMonotoneAndWithinRange() {
    Random random = new Random(11);
    for (int trial = 0; trial < 50; trial++) {
      long[] samples = random.longs(1 + random.nextInt(300), 0, 1_000_000).toArray();
      Percentiles p = Percentiles.of(samples);
      long previous = Long.MIN_VALUE;
      for (double q = 1; q <= 100; q += 1) {
        long v = p.percentile(q);
        assertThat(v).isGreaterThanOrEqualTo(previous).isBetween(p.min(), p.max());
        long atOrBelow = Arrays.stream(samples).filter(s -> s <= v).count();
        assertThat(atOrBelow).isGreaterThanOrEqualTo((long) Math.ceil(q / 100 * samples.length));
        previous = v;
      }
    }
  }

  @Test
  void inputIsCopiedAndBadArgumentsAreRejected() {
    long[] samples = {3, 1, 2};
    Percentiles p = Percentiles.of(samples);
    samples[0] = 1000;
    assertThat(p.max()).isEqualTo(3);
    assertThatThrownBy(() -> Percentiles.of(new long[0])).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> p.percentile(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> p.percentile(100.5)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Percentiles.millis(1_500_000)).isEqualTo(1.5);
  }

  @Test
  void recallIsTheShareOfTheExactTopKFound() {
    List<Hit> exact = List.of(hit("a#0"), hit("b#0"), hit("c#0"), hit("d#0"));
    assertThat(PipelineBench.recall(exact, exact)).isEqualTo(1.0);
    assertThat(PipelineBench.recall(List.of(hit("b#0"), hit("x#0"), hit("a#0"), hit("y#0")), exact)).isEqualTo(0.5);
    assertThat(PipelineBench.recall(List.of(), exact)).isEqualTo(0.0);
    assertThat(PipelineBench.recall(List.of(), List.of())).isEqualTo(1.0);
  }

  private static Hit hit(String passageId) {
    return new Hit(passageId, passageId.substring(0, passageId.indexOf('#')), 0, null, "text", null, java.util.Map.of(), 0.5f);
  }

  private static void shuffle(long[] a, Random random) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      long t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
