package io.d2search.distill;

import io.d2search.rank.IemHead;
import java.util.Objects;

/**
 * How {@link Trainer} trains.
 *
 * @param epochs most passes over the training examples, ≥ 1
 * @param batchSize queries per step, ≥ 2 (in-batch negatives need company)
 * @param learningRate peak AdamW learning rate, &gt; 0
 * @param warmupFraction fraction of all steps over which the rate rises linearly from 0 to the peak, in [0, 1);
 *     it then decays linearly towards 0 at the last step
 * @param weightDecay AdamW's decoupled weight decay for weight matrices; biases, LayerNorms and the PMA seed
 *     never decay
 * @param clipNorm clip the gradient to this global L2 norm, &gt; 0 ({@code Double.POSITIVE_INFINITY} disables)
 * @param seed seeds the shuffling and the engine; the same seed and data give the same run
 * @param patience stop after this many epochs without a held-out improvement, ≥ 1
 * @param minImprovement how much the held-out loss must fall to count as an improvement, ≥ 0
 * @param branch which IEM branch the examples train (search: ASYMMETRIC); the other branch stays frozen
 * @param trainPma whether the PMA trains (false: only the IEM does)
 * @param progress how progress is shown
 * @param trainSharedIem whether the IEM layers both branches share (fc1, out) train; false when a second branch is
 *     added to heads whose first branch must not change
 * @param trainIem whether the IEM trains at all (false: only the PMA does, scored through the IEM as it is; with
 *     the cosine start that is the bi-encoder's scaled cosine, so the losses shape the vectors HNSW searches)
 * @param backboneLearningRate peak learning rate of the backbone layers the heads carry, if any (same schedule as
 *     {@code learningRate}); 0 keeps them frozen. Fine-tuning a pretrained encoder wants a rate ~30× below the
 *     fresh heads'.
 */
public record TrainerConfig(
    int epochs, int batchSize, double learningRate, double warmupFraction, double weightDecay, double clipNorm,
    long seed, int patience, double minImprovement, IemHead.Branch branch, boolean trainPma, Progress progress,
    boolean trainSharedIem, boolean trainIem, double backboneLearningRate) {

  /** Where the progress bar (steps, loss, ETA of the whole run) goes. */
  public enum Progress {
    /** Nowhere. */
    NONE,
    /** Redrawn in place on the console (stderr). */
    CONSOLE,
    /** As INFO log lines, about once a second. */
    LOG
  }

  public TrainerConfig {
    Objects.requireNonNull(branch, "branch");
    Objects.requireNonNull(progress, "progress");
    if (epochs < 1) {
      throw new IllegalArgumentException("epochs must be >= 1: " + epochs);
    }
    if (batchSize < 2) {
      throw new IllegalArgumentException("batchSize must be >= 2: " + batchSize);
    }
    if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
      throw new IllegalArgumentException("learningRate must be finite and > 0: " + learningRate);
    }
    if (!(warmupFraction >= 0 && warmupFraction < 1)) {
      throw new IllegalArgumentException("warmupFraction must be in [0, 1): " + warmupFraction);
    }
    if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
      throw new IllegalArgumentException("weightDecay must be finite and >= 0: " + weightDecay);
    }
    if (!(clipNorm > 0)) {
      throw new IllegalArgumentException("clipNorm must be > 0: " + clipNorm);
    }
    if (patience < 1) {
      throw new IllegalArgumentException("patience must be >= 1: " + patience);
    }
    if (!(minImprovement >= 0)) {
      throw new IllegalArgumentException("minImprovement must be >= 0: " + minImprovement);
    }
    if (!(backboneLearningRate >= 0) || Double.isInfinite(backboneLearningRate)) {
      throw new IllegalArgumentException("backboneLearningRate must be finite and >= 0: " + backboneLearningRate);
    }
    if (!trainPma && !trainIem && backboneLearningRate == 0) {
      throw new IllegalArgumentException("nothing to train: neither the PMA nor the IEM nor backbone layers");
    }
  }

  /**
   * 10 epochs of 32 queries, AdamW at 1e-3 with 10% warm-up and weight decay 0.01, clipping at norm 1, seed 0,
   * patience 2, the asymmetric (search) branch, PMA and IEM both training, a console progress bar; backbone layers,
   * when the student tunes any, at a peak of 3e-5 (the usual fine-tuning rate of a BERT encoder).
   */
  public static TrainerConfig defaults() {
    return new TrainerConfig(10, 32, 1e-3, 0.1, 0.01, 1.0, 0, 2, 1e-4, IemHead.Branch.ASYMMETRIC, true,
        Progress.CONSOLE, true, true, 3e-5);
  }

  public TrainerConfig withEpochs(int n) {
    return new TrainerConfig(n, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withBatchSize(int n) {
    return new TrainerConfig(epochs, n, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withLearningRate(double lr) {
    return new TrainerConfig(epochs, batchSize, lr, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withSeed(long s) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, s, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withPatience(int p) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, p,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withClipNorm(double c) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, c, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withProgress(Progress p) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, p, trainSharedIem, trainIem, backboneLearningRate);
  }

  /** The same, with the IEM's shared layers frozen. */
  public TrainerConfig withFrozenShared() {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, false, trainIem, backboneLearningRate);
  }

  public TrainerConfig withBranch(IemHead.Branch b) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, b, trainPma, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  public TrainerConfig withTrainIem(boolean train) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, train, backboneLearningRate);
  }

  public TrainerConfig withTrainPma(boolean train) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, train, progress, trainSharedIem, trainIem, backboneLearningRate);
  }

  /** The same, with the backbone layers' peak learning rate (0 freezes them). */
  public TrainerConfig withBackboneLearningRate(double lr) {
    return new TrainerConfig(epochs, batchSize, learningRate, warmupFraction, weightDecay, clipNorm, seed, patience,
        minImprovement, branch, trainPma, progress, trainSharedIem, trainIem, lr);
  }
}
