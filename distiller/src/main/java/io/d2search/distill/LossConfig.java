package io.d2search.distill;

import java.util.Locale;

/**
 * Which distillation objective, and every weight and temperature in it (docs/d2llm-heads.md). Defaults are
 * D2LLM's: in-batch 1, α = 1, β = 1, γ = 0.01, η = 0.001, all temperatures 1.
 *
 * @param objective D2LLM's sum of losses or DisRanker's hybrid loss
 * @param inBatchWeight weight of the in-batch InfoNCE term (both objectives; 0 drops it)
 * @param inBatchTemperature τ of the in-batch InfoNCE, &gt; 0
 * @param alpha weight of contrastive imitation (D2LLM)
 * @param ciTemperature τ of contrastive imitation, &gt; 0
 * @param beta weight of rank imitation, 1 − Pearson (D2LLM)
 * @param gamma weight of rank imitation's BPR part, hard vs in-batch negatives (D2LLM)
 * @param eta weight of feature imitation (D2LLM; skipped when the batch carries no teacher features)
 * @param hybridLambda λ of the margin term of the hybrid loss (HYBRID)
 */
public record LossConfig(
    Objective objective, double inBatchWeight, double inBatchTemperature, double alpha, double ciTemperature,
    double beta, double gamma, double eta, double hybridLambda) {

  /** The training objective. */
  public enum Objective {
    /** {@code inBatch·InfoNCE + α·CI + β·RI + γ·BPR + η·FI}. */
    D2LLM,
    /** {@code inBatch·InfoNCE + MSE(σ(z), t) + λ·MSE(σ(z⁺) − σ(z⁻), t⁺ − t⁻)} (DisRanker). */
    HYBRID
  }

  public LossConfig {
    if (objective == null) {
      throw new IllegalArgumentException("objective must not be null");
    }
    nonNegative("inBatchWeight", inBatchWeight);
    nonNegative("alpha", alpha);
    nonNegative("beta", beta);
    nonNegative("gamma", gamma);
    nonNegative("eta", eta);
    nonNegative("hybridLambda", hybridLambda);
    positive("inBatchTemperature", inBatchTemperature);
    positive("ciTemperature", ciTemperature);
  }

  /** D2LLM's objective and weights. */
  public static LossConfig d2llm() {
    return new LossConfig(Objective.D2LLM, 1, 1, 1, 1, 1, 0.01, 0.001, 1);
  }

  /** DisRanker's hybrid loss with λ = 1, plus the in-batch term. */
  public static LossConfig hybrid() {
    return new LossConfig(Objective.HYBRID, 1, 1, 0, 1, 0, 0, 0, 1);
  }

  /**
   * The objective {@code distill --loss} names, with {@code --loss-weights} replacing its weights when given.
   *
   * @param objective {@code d2llm} or {@code hybrid}, any case
   * @param weights null for the objective's own, or five comma-separated numbers: in-batch InfoNCE, α, β, γ, η
   *     (e.g. {@code 0,0,1,0.01,0.001} learns from the teacher's scores alone, never from which document was
   *     judged relevant)
   * @throws IllegalArgumentException naming the option whose value is wrong
   */
  public static LossConfig parse(String objective, String weights) {
    LossConfig c = switch (objective.toLowerCase(Locale.ROOT)) {
      case "d2llm" -> d2llm();
      case "hybrid" -> hybrid();
      default -> throw new IllegalArgumentException("--loss must be d2llm or hybrid: " + objective);
    };
    if (weights == null) {
      return c;
    }
    String[] w = weights.split(",");
    if (w.length != 5) {
      throw new IllegalArgumentException("--loss-weights needs 5 numbers: " + weights);
    }
    try {
      return c.withInBatchWeight(Double.parseDouble(w[0].strip())).withWeights(Double.parseDouble(w[1].strip()),
          Double.parseDouble(w[2].strip()), Double.parseDouble(w[3].strip()), Double.parseDouble(w[4].strip()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--loss-weights needs 5 numbers: " + weights, e);
    }
  }

  public LossConfig withInBatchWeight(double w) {
    return new LossConfig(objective, w, inBatchTemperature, alpha, ciTemperature, beta, gamma, eta, hybridLambda);
  }

  public LossConfig withWeights(double alpha, double beta, double gamma, double eta) {
    return new LossConfig(objective, inBatchWeight, inBatchTemperature, alpha, ciTemperature, beta, gamma, eta,
        hybridLambda);
  }

  public LossConfig withTemperatures(double inBatch, double ci) {
    return new LossConfig(objective, inBatchWeight, inBatch, alpha, ci, beta, gamma, eta, hybridLambda);
  }

  public LossConfig withHybridLambda(double lambda) {
    return new LossConfig(objective, inBatchWeight, inBatchTemperature, alpha, ciTemperature, beta, gamma, eta,
        lambda);
  }

  private static void nonNegative(String name, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException(name + " must be finite and >= 0: " + v);
    }
  }

  private static void positive(String name, double v) {
    if (!(v > 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException(name + " must be finite and > 0: " + v);
    }
  }
}
