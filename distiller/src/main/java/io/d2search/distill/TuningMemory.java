package io.d2search.distill;

import java.util.Locale;

/**
 * What fine-tuning the top backbone layers ({@link BertLayers}) costs in memory, estimated before the run: the
 * activations autograd keeps for the backward pass dominate it and grow with the batch, the list length, the tuned
 * layers and the square of the sequence length, so a run that will not fit is refused at its start instead of being
 * killed by the kernel minutes or an hour in.
 *
 * <p>Per sequence and tuned layer, in floats (h = hidden, a = attention heads, i = intermediate, t = tokens): the
 * layer's input, Q, K, V, the attention context, its projection and LayerNorm in and out ({@code 10·t·h}), the
 * attention scores before and after the mask and softmax ({@code 3·a·t²}), the intermediate before and after GELU
 * ({@code 2·t·i}). The backward pass holds about as much again in gradients. A step runs B queries, B positives and
 * B·K hard negatives through the layers, all padded to the longest, so {@code t} is taken at the backbone's
 * maximum: the estimate is for the worst batch. Calibrated on this machine (all-MiniLM-L6-v2, 6 layers, K = 15,
 * 256 tokens, -Xmx6g): batch 4 peaked at 22.2 GB resident (estimate 22.1 GB); batch 8 was killed by the kernel on
 * a 25.3 GB machine (estimate 35.5 GB).
 *
 * @param layers tuned layers
 * @param hidden hidden size
 * @param heads attention heads
 * @param tokens tokens per sequence (the longest in a batch)
 * @param batchSize queries per step
 * @param negatives hard negatives per query, K
 */
public record TuningMemory(int layers, int hidden, int heads, int tokens, int batchSize, int negatives) {
  /**
   * Resident memory besides the JVM heap and the activations: libtorch, ONNX Runtime's sessions for the backbone
   * and the teacher's encoders, their arenas, the cached states being read.
   */
  public static final long NATIVE_BASE_BYTES = 2L << 30;

  public TuningMemory {
    if (layers < 1 || hidden < 1 || heads < 1 || tokens < 1 || batchSize < 1 || negatives < 0) {
      throw new IllegalArgumentException("layers, hidden, heads, tokens and the batch size must be >= 1 and the "
          + "negatives >= 0: " + layers + ", " + hidden + ", " + heads + ", " + tokens + ", " + batchSize + ", "
          + negatives);
    }
  }

  /** Sequences a step runs through the layers: each query, its positive and its K negatives. */
  public long sequences() {
    return (long) batchSize * (2 + negatives);
  }

  /** Bytes of the activations a step keeps for its backward pass. */
  public long activationBytes() {
    long t = tokens;
    // BERT's intermediate layer is 4 × hidden in every backbone shipped here.
    long floats = 10 * t * hidden + 3L * heads * t * t + 2 * t * (4L * hidden);
    return floats * Float.BYTES * sequences() * layers;
  }

  /**
   * The estimated peak resident size of the process.
   *
   * @param heapBytes the JVM's maximum heap
   */
  public long peakBytes(long heapBytes) {
    return heapBytes + NATIVE_BASE_BYTES + 2 * activationBytes();
  }

  /**
   * What a refusal tells its reader to change, by the names the reader sets them with.
   *
   * @param batchSize the batch size's name
   * @param layers the tuned layers'
   * @param negatives the negatives'
   * @param skipCheck how to turn the check off
   */
  public record Knobs(String batchSize, String layers, String negatives, String skipCheck) {
    /** The {@code distill} command's options. */
    public static final Knobs DISTILL = new Knobs("--batch-size", "--tune-layers", "--negatives",
        "pass --no-memory-check");
  }

  /**
   * Nothing when the estimated peak fits in {@code physicalBytes}; otherwise why not and what to change, in
   * {@code distill}'s options.
   */
  public String refusal(long heapBytes, long physicalBytes) {
    return refusal(heapBytes, physicalBytes, Knobs.DISTILL);
  }

  /** As {@link #refusal(long, long)}, naming what to change as {@code knobs} does. */
  public String refusal(long heapBytes, long physicalBytes, Knobs knobs) {
    long peak = peakBytes(heapBytes);
    if (peak <= physicalBytes) {
      return null;
    }
    return String.format(Locale.ROOT, "tuning %d backbone layers at %s %d needs about %.1f GB (the "
        + "activations of %d sequences × %d tokens kept for the backward pass and their gradients, plus a %.1f GB "
        + "heap and %.1f GB of native libraries); this machine has %.1f GB. Lower %s, %s or %s, or %s if the "
        + "passages are much shorter than %d tokens",
        layers, knobs.batchSize(), batchSize, gb(peak), sequences(), tokens, gb(heapBytes), gb(NATIVE_BASE_BYTES),
        gb(physicalBytes), knobs.batchSize(), knobs.layers(), knobs.negatives(), knobs.skipCheck(), tokens);
  }

  /** This machine's physical memory. */
  public static long physicalBytes() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getTotalMemorySize();
  }

  private static double gb(long bytes) {
    return bytes / 1e9;
  }
}
