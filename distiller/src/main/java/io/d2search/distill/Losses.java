package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;

/**
 * The distillation losses of D2LLM (docs/d2llm-heads.md) and DisRanker's hybrid loss, one static method each:
 * arrays in, a differentiable scalar (shape {@code []}) out, averaged over the batch so that the value does not
 * grow with the batch size.
 *
 * <p>Notation: a batch has {@code B} queries; each has a positive p⁺ in column 0 and {@code K} hard negatives in
 * columns {@code 1..K} of a {@code [B, 1+K]} candidate list. {@code z} are student logits (IEM outputs),
 * {@code t} teacher probabilities in [0, 1]. Every method works in the data type of its inputs and keeps no state.
 */
public final class Losses {
  /** Keeps square roots of zero variances and norms differentiable. */
  static final double EPS = 1e-8;

  private Losses() {}

  /**
   * In-batch contrastive loss (InfoNCE): query i's positive is column i, every other column is a negative.
   * {@code mean_i −log softmax_j(logits[i, j] / τ)[i]}.
   *
   * @param logits {@code [B, N]}, {@code N ≥ B}: the IEM logit of query i against passage j (the bs×bs matrix
   *     when N = B; extra columns are extra negatives)
   * @param temperature τ &gt; 0
   */
  public static NDArray inBatchInfoNce(NDArray logits, double temperature) {
    Shape s = requireRank(logits, 2, "logits");
    int b = Math.toIntExact(s.get(0));
    if (s.get(1) < b) {
      throw new IllegalArgumentException("logits need at least B columns: " + s);
    }
    NDArray logp = Scalars.div(logits, temperature).logSoftmax(1);
    NDArray diagonal = logits.getManager().eye(b, Math.toIntExact(s.get(1)), 0, logits.getDataType());
    return Scalars.div(logp.mul(diagonal).sum().neg(), b);
  }

  /**
   * Contrastive imitation (CI): the positive's logit scaled by its teacher probability against every candidate's
   * logit scaled by the teacher's belief in it, {@code w₀ = t⁺}, {@code w_k = 1 − t_k}:
   * {@code mean_b −log( exp(t⁺·z⁺/τ) / Σ_{k=0..K} exp(w_k·z_k/τ) )}. The sum includes the positive (k = 0).
   *
   * @param z student logits {@code [B, 1+K]}, positive in column 0
   * @param t teacher probabilities {@code [B, 1+K]}
   * @param temperature τ &gt; 0
   */
  public static NDArray contrastiveImitation(NDArray z, NDArray t, double temperature) {
    requireSameCandidates(z, t);
    NDArray w = NDArrays.concat(new NDList(t.get(":, 0:1"), t.get(":, 1:").neg().add(1)), 1);
    // −log(exp(a₀) / Σ exp(a_k)) = −logSoftmax(a)[0] with a = w·z/τ
    return Scalars.div(w.mul(z), temperature).logSoftmax(1).get(":, 0").mean().neg();
  }

  /**
   * Rank imitation (RI): one minus the Pearson correlation of student and teacher scores over the candidate list
   * [p⁺, negatives], averaged over queries. Pearson's r is {@code Σ z̃t̃ / sqrt((Σ z̃² + ε)(Σ t̃² + ε))} with
   * {@code z̃ = z − mean(z)}, {@code t̃ = t − mean(t)} per row and ε = 1e-8 (so constant rows give r = 0, not NaN).
   *
   * @param z student logits {@code [B, 1+K]}, {@code 1+K ≥ 2}
   * @param t teacher probabilities {@code [B, 1+K]}
   */
  public static NDArray rankImitation(NDArray z, NDArray t) {
    requireSameCandidates(z, t);
    NDArray zc = z.sub(z.mean(new int[] {1}, true));
    NDArray tc = t.sub(t.mean(new int[] {1}, true));
    NDArray cov = zc.mul(tc).sum(new int[] {1});
    NDArray scale = zc.square().sum(new int[] {1}).add(EPS).mul(tc.square().sum(new int[] {1}).add(EPS)).sqrt();
    return cov.div(scale).neg().add(1).mean();
  }

  /**
   * The BPR part of rank imitation: every hard negative k should outscore every in-batch (easy) negative m by as
   * much as the teacher prefers it: {@code −log σ(z_k − z_m) · max(0, t_k − t_m)}, averaged over the
   * (query, k, m) triples that {@code easyMask} admits.
   *
   * @param zHard student logits of the hard negatives {@code [B, K]}
   * @param tHard teacher probabilities of the hard negatives {@code [B, K]}
   * @param zEasy student logits of query b against in-batch passages {@code [B, M]}
   * @param tEasy teacher probabilities of those pairs {@code [B, M]} (zeros when the teacher never saw them: then
   *     the weight is {@code t_k})
   * @param easyMask {@code [B, M]}, 1 where column m is a negative for query b (e.g. 0 on the diagonal of a bs×bs
   *     matrix, whose diagonal holds the query's own positive), or {@code null} for all ones
   */
  public static NDArray bprRankImitation(NDArray zHard, NDArray tHard, NDArray zEasy, NDArray tEasy,
      NDArray easyMask) {
    requireSameCandidates(zHard, tHard);
    requireSameCandidates(zEasy, tEasy);
    if (zHard.getShape().get(0) != zEasy.getShape().get(0)) {
      throw new IllegalArgumentException("hard and easy negatives need the same batch: " + zHard.getShape() + ", "
          + zEasy.getShape());
    }
    NDArray diff = zHard.expandDims(2).sub(zEasy.expandDims(1)); // [B, K, M]
    NDArray weight = Activation.relu(tHard.expandDims(2).sub(tEasy.expandDims(1)));
    long k = zHard.getShape().get(1);
    double triples;
    if (easyMask == null) {
      triples = (double) zHard.getShape().get(0) * k * zEasy.getShape().get(1);
    } else {
      if (!easyMask.getShape().equals(zEasy.getShape())) {
        throw new IllegalArgumentException("easyMask must be " + zEasy.getShape() + ": " + easyMask.getShape());
      }
      NDArray mask = easyMask.toType(zEasy.getDataType(), false);
      weight = weight.mul(mask.expandDims(1));
      triples = value(mask.sum()) * k;
    }
    if (triples == 0) {
      return Scalars.mul(diff.sum(), 0); // no pair to rank: a zero that stays in the graph
    }
    return Scalars.div(softplus(diff.neg()).mul(weight).sum(), triples);
  }

  /**
   * Feature imitation (FI): the student should arrange a query's candidates like the teacher does. Per query, the
   * (1+K)×(1+K) Gram matrix of cosine similarities between the candidates' per-pair feature vectors is computed
   * for the student and for the teacher; the loss is the mean squared difference of their entries, averaged over
   * queries.
   *
   * <p>Student feature of a (query, candidate) pair: the IEM branch output {@code f} (H = 512 wide). Teacher feature
   * of the same pair: the vector of every teacher-side signal available for that pair, {@code F} wide, e.g. the
   * component scores of an ensemble teacher, or for a single yes/no LLM teacher its log-probabilities
   * {@code [log p_yes, log p_no]} (a single scalar is useless here: the cosine of two positive scalars is
   * always 1). Cosines use {@code x / sqrt(‖x‖² + ε)}, so an all-zero feature (a dead ReLU layer) gives cosine 0.
   *
   * @param student student features {@code [B, 1+K, H]}
   * @param teacher teacher features {@code [B, 1+K, F]}, F ≥ 1
   */
  public static NDArray featureImitation(NDArray student, NDArray teacher) {
    requireRank(student, 3, "student features");
    requireRank(teacher, 3, "teacher features");
    if (student.getShape().get(0) != teacher.getShape().get(0)
        || student.getShape().get(1) != teacher.getShape().get(1)) {
      throw new IllegalArgumentException("student and teacher features need the same [B, 1+K]: "
          + student.getShape() + ", " + teacher.getShape());
    }
    return cosineGram(student).sub(cosineGram(teacher)).square().mean();
  }

  /** {@code [B, n, F]} → {@code [B, n, n]} cosine similarities within each row group. */
  static NDArray cosineGram(NDArray x) {
    NDArray unit = x.div(x.square().sum(new int[] {2}, true).add(EPS).sqrt());
    return unit.batchMatMul(unit.transpose(0, 2, 1));
  }

  /**
   * DisRanker's hybrid point-wise and margin loss: {@code MSE(s, t) + λ·MSE(s⁺ − s_k, t⁺ − t_k)}, the first mean
   * over all {@code B·(1+K)} scores, the second over the {@code B·K} (positive, negative) margins. The scores
   * {@code s} must be on the teacher's scale; {@link DistillationLoss} passes {@code σ(z)} against probabilities.
   *
   * @param s student scores {@code [B, 1+K]}, positive in column 0
   * @param t teacher scores {@code [B, 1+K]}
   * @param lambda weight of the margin term, ≥ 0
   */
  public static NDArray hybridPointMargin(NDArray s, NDArray t, double lambda) {
    requireSameCandidates(s, t);
    NDArray point = s.sub(t).square().mean();
    NDArray sMargin = s.get(":, 0:1").sub(s.get(":, 1:"));
    NDArray tMargin = t.get(":, 0:1").sub(t.get(":, 1:"));
    return point.add(Scalars.mul(sMargin.sub(tMargin).square().mean(), lambda));
  }

  /** The value of a one-element array of any floating type (a loss), as a double. */
  public static double value(NDArray scalar) {
    if (scalar.size() != 1) {
      throw new IllegalArgumentException("not a scalar: " + scalar.getShape());
    }
    return scalar.toType(DataType.FLOAT64, false).getDouble();
  }

  /** {@code log(1 + exp(x))} without overflow: {@code max(x, 0) + log(1 + exp(−|x|))}. */
  static NDArray softplus(NDArray x) {
    return Activation.relu(x).add(x.abs().neg().exp().add(1).log());
  }

  private static Shape requireRank(NDArray a, int rank, String what) {
    if (a.getShape().dimension() != rank) {
      throw new IllegalArgumentException(what + " must have rank " + rank + ": " + a.getShape());
    }
    return a.getShape();
  }

  private static void requireSameCandidates(NDArray z, NDArray t) {
    requireRank(z, 2, "student scores");
    if (!z.getShape().equals(t.getShape())) {
      throw new IllegalArgumentException("student and teacher scores differ in shape: " + z.getShape() + " vs "
          + t.getShape());
    }
  }
}
