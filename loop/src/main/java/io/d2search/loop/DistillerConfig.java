package io.d2search.loop;

import io.d2search.distill.LossConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The distiller service's settings ({@code distiller.*}, declared with their defaults and meaning in
 * {@code d2search-defaults.properties}).
 *
 * @param stateDir the service's own files: its replica index, candidate bundles, caches, refresh reports
 * @param bundlesDir the bundle store every service reads; released bundles are moved there
 * @param refreshEveryExamples a refresh starts once this many new examples arrived since the last one
 * @param refreshInterval ... or once this long passed since the last one, if any new example arrived
 * @param minTrainingLists a refresh with fewer training lists than this is skipped, and says so
 * @param gateFraction the share of feedback queries held out for the gate ({@link HeldOutRule})
 * @param validationFraction the share of the rest held out for early stopping
 * @param negatives hard negatives per list, K: the skipped results first, then mined ones
 * @param denseNegatives of the mined ones, how many come from the replica's HNSW (the rest from its BM25)
 * @param negativeDepth the HNSW ranks those are drawn across
 * @param epochs most epochs per refresh
 * @param learningRate the IEM's peak AdamW rate
 * @param batchSize lists per step
 * @param seed seeds initialisation and shuffling: the same refresh over the same data trains the same weights
 * @param loss the objective
 * @param gate when a candidate may replace the current release
 * @param judged a relevance-judged split the gate also judges on (its {@link HeldOutRule} slice); null for none
 * @param threads intra-op threads of training (bounded, so search and ingestion keep their cores)
 * @param canary the online gate a release passes after the offline one
 * @param kind what a refresh trains: {@code HEADS} the IEM head (the passage vectors stay), {@code FULL} the PMA
 *     head too (a FULL release: the indexer re-embeds every passage)
 * @param tuning the backbone's top layers a FULL refresh fine-tunes too; null: the backbone stays frozen (a HEADS
 *     refresh never touches it: its passage vectors must stay the serving ones)
 */
public record DistillerConfig(Path stateDir, Path bundlesDir, int refreshEveryExamples, Duration refreshInterval,
    int minTrainingLists, double gateFraction, double validationFraction, int negatives, int denseNegatives,
    int negativeDepth, int epochs, double learningRate, int batchSize, long seed, LossConfig loss, GateConfig gate,
    JudgedGate judged, int threads, CanaryConfig canary, io.d2search.events.ReleaseKind kind,
    BackboneTuning tuning) {

  /**
   * Fine-tuning of the backbone's top layers in a FULL refresh ({@link io.d2search.distill.Distillation.BackboneTuning}):
   * the layers below stay frozen and their token states are cached like the backbone's last ones.
   *
   * @param layers how many top encoder layers train, ≥ 1
   * @param heads their attention heads (12 in all-MiniLM-L6-v2, bge-small and e5-small)
   * @param learningRate their peak AdamW rate
   * @param memoryCheck refuse a refresh whose estimated peak memory exceeds the JVM's heap or the machine's memory
   */
  public record BackboneTuning(int layers, int heads, double learningRate, boolean memoryCheck) {
    public BackboneTuning {
      if (layers < 1 || heads < 1 || !(learningRate > 0)) {
        throw new IllegalArgumentException("backbone tuning needs layers >= 1, heads >= 1 and a rate > 0");
      }
    }

    /** The distillation's plan of it. */
    public io.d2search.distill.Distillation.BackboneTuning plan() {
      return new io.d2search.distill.Distillation.BackboneTuning(layers, heads);
    }
  }

  /**
   * The online gate ({@link CanaryJudge}): a candidate that passed the offline gate is first published as the canary,
   * interleaved with the current model in a share of searches ({@code search.canary-share}, the query service's), and
   * promoted or rolled back on the clicks.
   *
   * @param enabled false publishes a passing candidate as the current release at once
   * @param minImpressions decided interleaved searches (one model's picks clicked more) before any verdict
   * @param maxImpressions after this many without a significant win, the canary is rolled back
   * @param alpha the sign test's significance level
   */
  public record CanaryConfig(boolean enabled, int minImpressions, int maxImpressions, double alpha) {
    /** No canary: a release that passes the offline gate serves every search at once. */
    public static final CanaryConfig OFF = new CanaryConfig(false, 1, 1, 0.05);

    public CanaryConfig {
      if (minImpressions < 1 || maxImpressions < minImpressions || !(alpha > 0 && alpha < 1)) {
        throw new IllegalArgumentException("canary needs 1 <= min-impressions <= max-impressions and alpha in (0, 1)");
      }
    }
  }

  /**
   * Judged queries for the gate: a BEIR split whose queries in the gate's hash slice are judged as the feedback's
   * are (the same rule on the query text, so a query held out there is never trained on, even if users search it).
   * Never a test split: that is for reporting.
   *
   * @param beir the BEIR dataset directory
   * @param split its qrels split
   */
  public record JudgedGate(Path beir, String split) {
    public JudgedGate {
      Objects.requireNonNull(beir, "beir");
      Objects.requireNonNull(split, "split");
      if (split.equals("test")) {
        throw new IllegalArgumentException("the gate never judges on a test split: distiller.gate.judged-split");
      }
    }
  }

  /**
   * @param minQueries fewer held-out feedback queries than this: no verdict, no release
   * @param margin the paired bootstrap's 95% lower bound of nDCG@10(candidate) − nDCG@10(current) must exceed it
   * @param recallTolerance recall@10 may drop by at most this much (the guard metric)
   * @param k the cut-off of both metrics
   * @param propensityEta corrects the clicks' position bias: a click on a result shown at rank r counts
   *     {@code r^eta} (inverse propensity of the examination model {@code 1/r^eta}), clipped at
   *     {@link #MAX_WEIGHT}; 0 counts every click alike
   */
  public record GateConfig(int minQueries, double margin, double recallTolerance, int k, double propensityEta) {
    /** The largest weight one click gets: clipping keeps a single deep click from deciding a query. */
    public static final double MAX_WEIGHT = 10;

    public GateConfig {
      if (minQueries < 2 || k < 1 || !(recallTolerance >= 0) || !(propensityEta >= 0)) {
        throw new IllegalArgumentException("gate needs >= 2 queries, k >= 1, a tolerance >= 0 and eta >= 0");
      }
    }

    /** The weight of a click on a result shown at {@code rank} (0: unknown, weight 1). */
    public double weight(int rank) {
      return rank < 1 ? 1 : Math.min(MAX_WEIGHT, Math.pow(rank, propensityEta));
    }
  }

  public DistillerConfig {
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(bundlesDir, "bundlesDir");
    Objects.requireNonNull(refreshInterval, "refreshInterval");
    Objects.requireNonNull(loss, "loss");
    Objects.requireNonNull(gate, "gate");
    Objects.requireNonNull(canary, "canary");
    Objects.requireNonNull(kind, "kind");
    if (refreshEveryExamples < 1 || minTrainingLists < 1 || negatives < 1 || denseNegatives < 0
        || denseNegatives > negatives || negativeDepth < denseNegatives || epochs < 1 || batchSize < 1
        || !(learningRate > 0) || threads < 0) {
      throw new IllegalArgumentException("distiller settings out of range: " + this);
    }
    new HeldOutRule(HeldOutRule.GATE, gateFraction);
    new HeldOutRule(HeldOutRule.VALIDATION, validationFraction);
  }

  public DistillerConfig withLearningRate(double value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, validationFraction, negatives, denseNegatives, negativeDepth, epochs, value, batchSize, seed,
        loss, gate, judged, threads, canary, kind, tuning);
  }

  public DistillerConfig withCanary(CanaryConfig value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, validationFraction, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize,
        seed, loss, gate, judged, threads, value, kind, tuning);
  }

  public DistillerConfig withKind(io.d2search.events.ReleaseKind value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, validationFraction, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize,
        seed, loss, gate, judged, threads, canary, value, tuning);
  }

  public DistillerConfig withTuning(BackboneTuning value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, validationFraction, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize,
        seed, loss, gate, judged, threads, canary, kind, value);
  }

  public DistillerConfig withValidationFraction(double value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, value, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize, seed, loss, gate,
        judged, threads, canary, kind, tuning);
  }

  public DistillerConfig withGate(GateConfig value) {
    return new DistillerConfig(stateDir, bundlesDir, refreshEveryExamples, refreshInterval, minTrainingLists,
        gateFraction, validationFraction, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize,
        seed, loss, value, judged, threads, canary, kind, tuning);
  }

  public DistillerConfig withRefreshEveryExamples(int value) {
    return new DistillerConfig(stateDir, bundlesDir, value, refreshInterval, minTrainingLists, gateFraction,
        validationFraction, negatives, denseNegatives, negativeDepth, epochs, learningRate, batchSize, seed, loss,
        gate, judged, threads, canary, kind, tuning);
  }
}
