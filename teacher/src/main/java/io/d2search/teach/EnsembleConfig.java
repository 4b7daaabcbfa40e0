package io.d2search.teach;

import io.d2search.embed.ExecutionProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How to build an {@link EnsembleTeacher}.
 *
 * @param dense the bi-encoder components, in order; at least one
 * @param weights one fusion weight per component: the dense models in order, then BM25 (so
 *     {@code dense.size() + 1} weights); a weight may be 0 (the component is still computed, and still a feature)
 * @param normalization how component scores are put on one scale before weighting
 * @param calibration maps the fused score to a probability
 * @param batchSize most texts in one ONNX call
 * @param intraOpThreads ONNX Runtime intra-op threads per model; 0 lets the runtime choose (all cores)
 * @param provider CPU, CUDA, or AUTO (CUDA when present)
 * @param memoEntries vectors kept in memory per model when no vector cache directory is given (least recently used
 *     evicted first); 0 disables the memo
 */
public record EnsembleConfig(
    List<DenseModel> dense, List<Double> weights, Normalization normalization, Calibration calibration,
    int batchSize, int intraOpThreads,
    ExecutionProvider provider, int memoEntries) {

  /** Name of the lexical component, after the dense ones. */
  public static final String BM25 = "bm25";

  /*
   * Defaults fitted on the SciFact TRAIN split only (809 queries, the top-100 candidates of the MiniLM bi-encoder,
   * whole documents title + " " + text at 256 tokens) by TeacherBench: GLOBAL normalisation with each component's
   * mean and standard deviation over all 80,900 train candidates; weights by grid search on the simplex (step
   * 0.05) maximising mean train nDCG@10 of the re-ranking (0.7716; PER_CALL z-scores reached 0.7685, so GLOBAL
   * was chosen, and it is pointwise); calibration by Platt scaling of the fused score on "judged relevant" over the
   * same candidates. On SciFact test (never used for fitting) the re-ranking scores nDCG@10 0.7298, against
   * 0.6451 for MiniLM and 0.6981 for bge-small alone.
   */
  static final List<Double> DEFAULT_CENTERS = List.of(0.6570717991281546, 0.8107261475201426, 0.09963460846014446);
  static final List<Double> DEFAULT_SCALES = List.of(0.052374610358530325, 0.025343811504437406, 0.09678491115258438);
  static final List<Double> DEFAULT_WEIGHTS = List.of(0.55, 0.2, 0.25);
  static final double DEFAULT_SLOPE = 2.212913;
  static final double DEFAULT_OFFSET = -6.832015;

  public EnsembleConfig {
    Objects.requireNonNull(dense, "dense");
    Objects.requireNonNull(weights, "weights");
    Objects.requireNonNull(normalization, "normalization");
    Objects.requireNonNull(calibration, "calibration");
    Objects.requireNonNull(provider, "provider");
    dense = List.copyOf(dense);
    weights = List.copyOf(weights);
    if (dense.isEmpty()) {
      throw new IllegalArgumentException("need at least one dense model");
    }
    if (weights.size() != dense.size() + 1) {
      throw new IllegalArgumentException("need " + (dense.size() + 1) + " weights (dense models, then BM25): "
          + weights);
    }
    if (normalization.mode() == Normalization.Mode.GLOBAL && normalization.centers().size() != weights.size()) {
      throw new IllegalArgumentException("GLOBAL normalization needs " + weights.size() + " centers and scales");
    }
    for (double w : weights) {
      if (!Double.isFinite(w)) {
        throw new IllegalArgumentException("weights must be finite: " + weights);
      }
    }
    if (dense.stream().map(DenseModel::name).distinct().count() != dense.size()
        || dense.stream().anyMatch(d -> d.name().equals(BM25))) {
      throw new IllegalArgumentException("component names must be distinct and not " + BM25);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1: " + batchSize);
    }
    if (intraOpThreads < 0) {
      throw new IllegalArgumentException("intraOpThreads must be >= 0: " + intraOpThreads);
    }
    if (memoEntries < 0) {
      throw new IllegalArgumentException("memoEntries must be >= 0: " + memoEntries);
    }
  }

  /**
   * bge-small-en-v1.5 + e5-small-v2 + BM25 with the normalisation, weights and calibration fitted on SciFact train
   * (GLOBAL: pointwise scores); batches of 32,
   * runtime-chosen threads, CUDA when present, 20,000 memoised vectors per model.
   */
  public static EnsembleConfig defaults() {
    return new EnsembleConfig(List.of(DenseModel.BGE_SMALL_EN_V15, DenseModel.E5_SMALL_V2),
        DEFAULT_WEIGHTS, Normalization.global(DEFAULT_CENTERS, DEFAULT_SCALES),
        new Calibration(DEFAULT_SLOPE, DEFAULT_OFFSET), 32, 0,
        ExecutionProvider.AUTO, 20_000);
  }

  /** Component names: the dense models' names, then {@value #BM25}. */
  public List<String> componentNames() {
    List<String> names = new ArrayList<>();
    dense.forEach(d -> names.add(d.name()));
    names.add(BM25);
    return List.copyOf(names);
  }

  public EnsembleConfig withWeights(List<Double> w) {
    return new EnsembleConfig(dense, w, normalization, calibration, batchSize, intraOpThreads, provider, memoEntries);
  }

  /** Weights, normalization and calibration together: they are fitted together. */
  public EnsembleConfig withFusion(List<Double> w, Normalization n, Calibration c) {
    return new EnsembleConfig(dense, w, n, c, batchSize, intraOpThreads, provider, memoEntries);
  }

  public EnsembleConfig withCalibration(Calibration c) {
    return new EnsembleConfig(dense, weights, normalization, c, batchSize, intraOpThreads, provider, memoEntries);
  }

  public EnsembleConfig withProvider(ExecutionProvider p) {
    return new EnsembleConfig(dense, weights, normalization, calibration, batchSize, intraOpThreads, p, memoEntries);
  }

  public EnsembleConfig withIntraOpThreads(int threads) {
    return new EnsembleConfig(dense, weights, normalization, calibration, batchSize, threads, provider, memoEntries);
  }

  public EnsembleConfig withMemoEntries(int entries) {
    return new EnsembleConfig(dense, weights, normalization, calibration, batchSize, intraOpThreads, provider, entries);
  }

  public EnsembleConfig withDense(List<DenseModel> models, List<Double> w) {
    return new EnsembleConfig(models, w, normalization, calibration, batchSize, intraOpThreads, provider, memoEntries);
  }
}
