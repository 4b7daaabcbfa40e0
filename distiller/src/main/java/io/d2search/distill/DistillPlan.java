package io.d2search.distill;

import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything that decides one distillation from judged BEIR data ({@link DistillRun}): the data and how it is
 * split, the pseudo-queries, how negatives are mined, the heads, the loss, the trainer and the backbone layers
 * tuned. What the run also needs from its host (caches, the embedder's settings, the teacher) is not part of the
 * plan: one plan, run on two machines with the same data and teacher, trains the same bundle.
 *
 * <p>Immutable. The constructor refuses inconsistent plans with an {@link IllegalArgumentException} whose message
 * names {@code distill}'s options, before any data is read.
 *
 * @param beir BEIR dataset directory ({@code corpus.jsonl}, {@code queries.jsonl}, {@code qrels/<split>.tsv})
 * @param split the qrels split to train on
 * @param out the new bundle's directory; its name is the version. It must not hold a bundle.
 * @param mining how each query's K hard negatives are mined
 * @param heldOut which judged queries are held out (early stopping and the bundle's metrics)
 * @param pseudoQueries pseudo-queries to train on too ({@link PseudoQueries#none()} for none)
 * @param judgedTraining whether the judged queries that are not held out train (false: pseudo-queries alone)
 * @param symmetric a second stage training the IEM's symmetric branch on STS-B; null for none
 * @param iemInput what the IEM reads
 * @param iemInit how a fresh IEM starts; null for {@link IemInit#defaultFor} the input. Ignored when the parent has
 *     an IEM of the same shape.
 * @param loss the objective
 * @param trainer optimisation settings; its seed also draws the held-out queries and the pseudo-queries and
 *     shuffles the STS-B pairs
 * @param tuning the backbone layers fine-tuned with the heads; null keeps the backbone frozen
 * @param memoryCheck with {@code tuning}, refuse a run whose estimated peak memory exceeds the machine's
 */
public record DistillPlan(Path beir, String split, Path out, Mining mining, HeldOut heldOut,
    PseudoQueries pseudoQueries, boolean judgedTraining, Symmetric symmetric, IemHead.Input iemInput, IemInit iemInit,
    LossConfig loss, TrainerConfig trainer, Distillation.BackboneTuning tuning, boolean memoryCheck) {

  /**
   * Hard negatives per query.
   *
   * @param k how many per query, K
   * @param fromIndex how many of the K come from the parent's HNSW index; the rest from BM25
   * @param indexDepth the index ranks they are drawn across (one per equal stratum, seeded by the query), ≥
   *     {@code fromIndex}; {@code indexDepth == fromIndex} takes the top ones
   */
  public record Mining(int k, int fromIndex, int indexDepth) {
    public Mining {
      if (indexDepth < fromIndex) {
        throw new IllegalArgumentException("--negative-depth " + indexDepth + " is less than --dense-negatives "
            + fromIndex);
      }
    }
  }

  /**
   * The held-out queries.
   *
   * @param fraction of the judged queries, in [0, 1)
   * @param kind how they are drawn
   */
  public record HeldOut(double fraction, QuerySplit.Kind kind) {
    public HeldOut {
      Objects.requireNonNull(kind, "kind");
      if (!(fraction >= 0 && fraction < 1)) {
        throw new IllegalArgumentException("held-out fraction must be in [0, 1): " + fraction);
      }
    }
  }

  /**
   * The symmetric stage: STS-B train pairs, human grades as the teacher, after the search branch.
   *
   * @param data directory holding {@code stsb/stsbenchmark.tsv.gz}
   * @param epochs its most epochs
   */
  public record Symmetric(Path data, int epochs) {
    public Symmetric {
      Objects.requireNonNull(data, "data");
    }
  }

  public DistillPlan {
    Objects.requireNonNull(beir, "beir");
    Objects.requireNonNull(split, "split");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(mining, "mining");
    Objects.requireNonNull(heldOut, "heldOut");
    Objects.requireNonNull(pseudoQueries, "pseudoQueries");
    Objects.requireNonNull(iemInput, "iemInput");
    Objects.requireNonNull(loss, "loss");
    Objects.requireNonNull(trainer, "trainer");
    if (out.getFileName() == null) {
      throw new IllegalArgumentException("--out must name the bundle's directory: " + out);
    }
    iemInit = iemInit == null ? IemInit.defaultFor(iemInput) : iemInit;
    if (!iemInit.allows(iemInput)) {
      throw new IllegalArgumentException("--iem-init cosine needs --iem-input interaction or interaction-only (concat "
          + "cannot form q·p in one layer)");
    }
    if (!judgedTraining && pseudoQueries.count() == 0) {
      throw new IllegalArgumentException(DistillRun.NOTHING_TO_TRAIN);
    }
    if (tuning != null && symmetric != null) {
      throw new IllegalArgumentException("--symmetric trains on the backbone's last states; it cannot follow "
          + "--tune-layers yet");
    }
  }

  /** The new bundle's version: {@link #out()}'s name. */
  public String version() {
    return out.getFileName().toString();
  }
}
