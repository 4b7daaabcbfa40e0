package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The estimate against a hand count, its scaling on random shapes, and the two runs it was calibrated on. */
class TuningMemoryTest {
  private static final long GIB = 1L << 30;

  @Test
  void countsEachActivationOfOneLayer() {
    // h = 2, a = 1, t = 3: 10·t·h = 60, 3·a·t² = 27, 2·t·(4h) = 48 floats, for a query and its positive.
    assertThat(new TuningMemory(1, 2, 1, 3, 1, 0).activationBytes()).isEqualTo(2 * 135 * 4);
    assertThat(new TuningMemory(1, 2, 1, 3, 1, 0).peakBytes(GIB))
        .isEqualTo(GIB + TuningMemory.NATIVE_BASE_BYTES + 2 * 1080);
    assertThat(new TuningMemory(1, 2, 1, 3, 4, 15).sequences()).isEqualTo(68);
  }

  @RepeatedTest(20)
  void growsLinearlyInSequencesAndLayersAndFasterThanLinearlyInTokens() {
    Random r = new Random();
    int layers = 1 + r.nextInt(12);
    int hidden = 8 * (1 + r.nextInt(128));
    int heads = 1 + r.nextInt(16);
    int tokens = 1 + r.nextInt(512);
    int batch = 1 + r.nextInt(16);
    int negatives = r.nextInt(32);
    long base = new TuningMemory(layers, hidden, heads, tokens, batch, negatives).activationBytes();
    assertThat(new TuningMemory(layers, hidden, heads, tokens, 2 * batch, negatives).activationBytes())
        .isEqualTo(2 * base);
    assertThat(new TuningMemory(layers, hidden, heads, tokens, batch, 2 * negatives + 2).activationBytes())
        .isEqualTo(2 * base);
    assertThat(new TuningMemory(2 * layers, hidden, heads, tokens, batch, negatives).activationBytes())
        .isEqualTo(2 * base);
    assertThat(new TuningMemory(layers, hidden, heads, 2 * tokens, batch, negatives).activationBytes())
        .isGreaterThan(2 * base);
  }

  @Test
  void fitsTheSixLayerRunThatFitAndRefusesTheOneTheKernelKilled() {
    long heap = 6 * GIB; // -Xmx6g
    long machine = 24_684_092L * 1024; // MemTotal of the 23 GiB machine both ran on
    TuningMemory fit = new TuningMemory(6, 384, 12, 256, 4, 15);
    // Measured: 21,668,304 kB resident at its peak.
    assertThat((double) fit.peakBytes(heap)).isCloseTo(21_668_304.0 * 1024, within(0.05 * 21_668_304.0 * 1024));
    assertThat(fit.refusal(heap, machine)).isNull();

    String refusal = new TuningMemory(6, 384, 12, 256, 8, 15).refusal(heap, machine);
    assertThat(refusal).contains("tuning 6 backbone layers at --batch-size 8", "this machine has 25.3 GB",
        "136 sequences × 256 tokens", "--no-memory-check");
    // The distiller service names its settings instead.
    String settings = new TuningMemory(6, 384, 12, 256, 8, 15).refusal(heap, machine,
        new TuningMemory.Knobs("distiller.batch-size", "distiller.tune-layers", "distiller.negatives",
            "set distiller.memory-check=false"));
    assertThat(settings).contains("at distiller.batch-size 8", "Lower distiller.batch-size, distiller.tune-layers or "
        + "distiller.negatives, or set distiller.memory-check=false").doesNotContain("--");
  }

  @Test
  void refusesEmptyShapes() {
    assertThatThrownBy(() -> new TuningMemory(0, 384, 12, 256, 4, 15)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be >= 1");
    assertThatThrownBy(() -> new TuningMemory(6, 384, 12, 256, 4, -1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("negatives >= 0");
  }
}
