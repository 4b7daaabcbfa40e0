package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The training objective of {@link LossConfig} over one batch's student outputs and teacher targets.
 *
 * <p>In-batch negatives: for query b, the positives of the other queries of the batch (the off-diagonal of the
 * bs×bs matrix). The teacher never scored those pairs; they count as teacher probability 0 in the BPR term.
 * Stateless and thread-safe.
 */
public final class DistillationLoss {
  private final LossConfig config;

  public DistillationLoss(LossConfig config) {
    this.config = Objects.requireNonNull(config, "config");
  }

  public LossConfig config() {
    return config;
  }

  /**
   * One batch's student side.
   *
   * @param candidates IEM logits {@code [B, 1+K]} of each query against its positive (column 0) and hard negatives
   * @param features IEM branch features {@code [B, 1+K, H]} of the same pairs
   * @param inBatch IEM logits {@code [B, B]}: query i against the positive of query j
   */
  public record Student(NDArray candidates, NDArray features, NDArray inBatch) {}

  /**
   * One batch's teacher side.
   *
   * @param scores teacher probabilities {@code [B, 1+K]} of the same pairs as {@link Student#candidates}
   * @param features teacher per-pair features {@code [B, 1+K, F]} (see {@link Losses#featureImitation}), or
   *     {@code null}: then feature imitation is skipped
   */
  public record Teacher(NDArray scores, NDArray features) {}

  /**
   * The loss and its weighted terms.
   *
   * @param total the differentiable scalar to minimise
   * @param terms each weighted term's value by name ({@code inBatch}, {@code ci}, {@code ri}, {@code bpr},
   *     {@code fi}, {@code hybrid}), for logging
   */
  public record Result(NDArray total, Map<String, NDArray> terms) {}

  /** Computes the objective. */
  public Result compute(Student student, Teacher teacher) {
    Map<String, NDArray> terms = new LinkedHashMap<>();
    NDArray z = student.candidates();
    NDArray t = teacher.scores().toType(z.getDataType(), false);
    if (config.inBatchWeight() > 0) {
      terms.put("inBatch", Scalars.mul(Losses.inBatchInfoNce(student.inBatch(), config.inBatchTemperature()),
          config.inBatchWeight()));
    }
    if (config.objective() == LossConfig.Objective.HYBRID) {
      terms.put("hybrid", Losses.hybridPointMargin(Activation.sigmoid(z), t, config.hybridLambda()));
    } else {
      if (config.alpha() > 0) {
        terms.put("ci", Scalars.mul(Losses.contrastiveImitation(z, t, config.ciTemperature()), config.alpha()));
      }
      if (config.beta() > 0) {
        terms.put("ri", Scalars.mul(Losses.rankImitation(z, t), config.beta()));
      }
      int b = Math.toIntExact(z.getShape().get(0));
      if (config.gamma() > 0 && b > 1 && z.getShape().get(1) > 1) {
        NDArray easy = student.inBatch();
        NDArray offDiagonal = easy.getManager().eye(b, b, 0, z.getDataType()).neg().add(1);
        terms.put("bpr", Scalars.mul(Losses.bprRankImitation(z.get(":, 1:"), t.get(":, 1:"), easy,
            easy.zerosLike(), offDiagonal), config.gamma()));
      }
      if (config.eta() > 0 && teacher.features() != null) {
        terms.put("fi", Scalars.mul(Losses.featureImitation(student.features(),
            teacher.features().toType(z.getDataType(), false)), config.eta()));
      }
    }
    NDArray total = null;
    for (NDArray term : terms.values()) {
      total = total == null ? term : total.add(term);
    }
    if (total == null) {
      total = Scalars.mul(z.sum(), 0);
    }
    return new Result(total, terms);
  }
}
