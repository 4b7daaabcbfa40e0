package io.d2search.distill;

import java.util.List;
import java.util.Map;

/**
 * What a {@link Trainer#fit} run did.
 *
 * @param epochs one entry per epoch run, in order
 * @param initialHeldOutLoss held-out loss before the first step ({@code NaN} without held-out examples)
 * @param bestEpoch the epoch (1-based) whose parameters the heads hold at the end, the one with the best held-out
 *     loss (the last one without held-out examples); 0 when no epoch beat the parameters before training, which
 *     the heads then hold again
 * @param stoppedEarly whether patience ran out before the configured epochs
 * @param steps optimizer steps taken
 */
public record TrainingReport(
    List<Epoch> epochs, double initialHeldOutLoss, int bestEpoch, boolean stoppedEarly, long steps) {

  public TrainingReport {
    epochs = List.copyOf(epochs);
  }

  /**
   * One epoch.
   *
   * @param epoch 1-based
   * @param trainLoss mean training loss over the epoch's steps (measured before each step's update)
   * @param heldOutLoss mean held-out loss after the epoch ({@code NaN} without held-out examples)
   * @param heldOutTerms the held-out loss split into its weighted terms (see {@link DistillationLoss.Result})
   * @param learningRate the learning rate of the epoch's last step
   * @param gradientNorm mean global gradient norm before clipping
   * @param millis wall time of the epoch, evaluation included
   */
  public record Epoch(
      int epoch, double trainLoss, double heldOutLoss, Map<String, Double> heldOutTerms, double learningRate,
      double gradientNorm, long millis) {
    public Epoch {
      heldOutTerms = Map.copyOf(heldOutTerms);
    }
  }

  /** The best epoch's held-out loss ({@code NaN} without held-out examples). */
  public double bestHeldOutLoss() {
    return bestEpoch == 0 ? initialHeldOutLoss : epochs.get(bestEpoch - 1).heldOutLoss();
  }
}
