package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.config.Settings;
import io.d2search.distill.LossConfig;
import io.d2search.index.Fusion;
import io.d2search.index.IndexConfig;
import io.d2search.index.RetrievalMode;
import io.d2search.loop.DistillerConfig;
import io.d2search.loop.RankingSetup;
import java.nio.file.Path;
import java.time.Duration;

/** The distiller service's typed configuration, read from the {@code distiller.*} and {@code search.*} settings. */
final class DistillerSettings {
  private DistillerSettings() {}

  /** Setting distiller.state-dir, or {@code <data.dir>/distiller} when empty. */
  static Path stateDir(Settings s) {
    String dir = s.string("distiller.state-dir");
    return dir.isBlank() ? Components.dataDir(s).resolve("distiller") : Path.of(dir);
  }

  static DistillerConfig config(Settings s) {
    return new DistillerConfig(stateDir(s), Components.bundlesDir(s), s.integer("distiller.refresh.every-examples"),
        Duration.ofMillis(s.longValue("distiller.refresh.interval-ms")), s.integer("distiller.min-training-lists"),
        s.doubleValue("distiller.gate.fraction"), s.doubleValue("distiller.validation-fraction"),
        s.integer("distiller.negatives"), s.integer("distiller.dense-negatives"),
        s.integer("distiller.negative-depth"), s.integer("distiller.epochs"),
        s.doubleValue("distiller.learning-rate"), s.integer("distiller.batch-size"), s.longValue("distiller.seed"),
        LossConfig.parse(s.string("distiller.loss"), null),
        new DistillerConfig.GateConfig(s.integer("distiller.gate.min-queries"), s.doubleValue("distiller.gate.margin"),
            s.doubleValue("distiller.gate.recall-tolerance"), s.integer("distiller.gate.k"),
            s.doubleValue("distiller.gate.propensity-eta")),
        s.string("distiller.gate.judged").isBlank() ? null : new DistillerConfig.JudgedGate(
            Path.of(s.string("distiller.gate.judged")), s.string("distiller.gate.judged-split")),
        s.integer("distiller.threads"),
        new DistillerConfig.CanaryConfig(s.bool("distiller.canary.enabled"), s.integer("distiller.canary.min-impressions"),
            s.integer("distiller.canary.max-impressions"), s.doubleValue("distiller.canary.alpha")),
        io.d2search.events.ReleaseKind.valueOf(s.string("distiller.refresh.kind").toUpperCase(java.util.Locale.ROOT)),
        s.integer("distiller.tune-layers") == 0 ? null : new DistillerConfig.BackboneTuning(
            s.integer("distiller.tune-layers"), s.integer("distiller.tune-heads"),
            s.doubleValue("distiller.backbone-learning-rate"), s.bool("distiller.memory-check")));
  }

  /**
   * The settings the distiller's own models run with: its embedder (token states) and the teacher get
   * {@code distiller.threads} intra-op threads too, like its training, so a refresh leaves the other cores to search
   * and ingestion.
   */
  static Settings bounded(Settings s) {
    int threads = s.integer("distiller.threads");
    return threads == 0 ? s : s.with("model.threads", threads);
  }

  /** How the query service ranks: the gate ranks both models the same way. */
  static RankingSetup ranking(Settings s) {
    return new RankingSetup(RetrievalMode.parse(s.string("search.mode")), Fusion.of(s),
        s.integer("search.rerank-depth"), s.doubleValue("search.rerank.first-stage-weight"));
  }

  /** The query service's index settings, for the distiller's replica. */
  static IndexConfig index(Settings s) {
    return Components.queryService(s).index();
  }
}
