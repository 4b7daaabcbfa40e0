package io.d2search.distill;

import ai.djl.ndarray.NDManager;
import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import io.d2search.embed.PmaHead;
import io.d2search.embed.TokenStates;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One distillation run from a parent bundle to a new one: initialise the heads (the parent's PMA, and its IEM when
 * it has one of the same shape; else the fresh initialisation of {@link StudentHeads#initialTensors}), train them
 * on a {@link TrainingSet} with early stopping on a held-out one, measure the held-out slice with the
 * <em>serving</em> code ({@link PmaHead}, {@link IemHead}) over the cached token states, and write an immutable
 * bundle whose manifest records the losses, the data, the teacher and those metrics.
 *
 * <p>Held-out metrics: {@code heldOut.mrr.iem} (reciprocal rank of the positive among its 1 + K candidates by the
 * IEM logit), {@code heldOut.mrr.cosine} (by the student's vector dot product, what HNSW ranks by),
 * {@code heldOut.mrr.parentCosine} (the parent's), {@code heldOut.mrr.teacher} (by the teacher's score), and the
 * held-out loss before and after training.
 */
public final class Distillation {
  private static final Logger log = LoggerFactory.getLogger(Distillation.class);

  private Distillation() {}

  /**
   * What to train and how.
   *
   * @param version the new bundle's version
   * @param spec the heads' architecture (dimension and PMA heads must be the parent's)
   * @param trainer optimisation settings
   * @param loss the objective
   * @param teacherId the teacher whose scores the examples carry
   * @param data where the examples came from (dataset, split, counts): recorded in the manifest
   * @param similarity a second stage training the IEM's symmetric branch (PMA frozen); null for none
   * @param iemInit how the IEM starts when the parent has none of the spec's shape
   */
  public record Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
      Map<String, Object> data, Similarity similarity, IemInit iemInit) {

    /** A plan whose fresh IEM starts as {@link IemInit#defaultFor} its input. */
    public Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
        Map<String, Object> data, Similarity similarity) {
      this(version, spec, trainer, loss, teacherId, data, similarity, IemInit.defaultFor(spec.iemInput()));
    }

    /** A plan without symmetric-branch training. */
    public Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
        Map<String, Object> data) {
      this(version, spec, trainer, loss, teacherId, data, null);
    }

    public Plan {
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(spec, "spec");
      Objects.requireNonNull(trainer, "trainer");
      Objects.requireNonNull(loss, "loss");
      Objects.requireNonNull(teacherId, "teacherId");
      Objects.requireNonNull(iemInit, "iemInit");
      data = Map.copyOf(data);
      if (!spec.hasIem()) {
        throw new IllegalArgumentException("distillation trains an IEM: the spec needs one");
      }
    }
  }

  /**
   * The symmetric branch's stage: after the search branch, with the PMA and the shared IEM layers as trained.
   *
   * @param train graded sentence-pair lists ({@link SimilarityExamples})
   * @param heldOut for its early stopping
   * @param trainer its settings; the branch is set to SYMMETRIC and the PMA frozen whatever it says
   * @param data what it was trained on: recorded in the manifest
   */
  public record Similarity(TrainingSet train, TrainingSet heldOut, TrainerConfig trainer, Map<String, Object> data) {
    public Similarity {
      Objects.requireNonNull(train, "train");
      Objects.requireNonNull(heldOut, "heldOut");
      Objects.requireNonNull(trainer, "trainer");
      data = Map.copyOf(data);
    }
  }

  /** The bundle written and the training report. */
  public record Result(ModelBundle bundle, TrainingReport report, Map<String, Object> metrics) {}

  /**
   * Trains and writes {@code outDir} (which must not hold a bundle yet).
   *
   * @throws IllegalArgumentException if the spec does not fit the parent
   */
  public static Result run(ModelBundle parent, Plan plan, TrainingSet train, TrainingSet heldOut, Path outDir) {
    return run(parent, plan, train, heldOut, outDir, null);
  }

  /**
   * As {@link #run(ModelBundle, Plan, TrainingSet, TrainingSet, Path)}, comparing epochs by the held-out re-rank
   * ({@code rerank}, for a frozen PMA) instead of the held-out loss; null: the loss.
   *
   * @throws IllegalArgumentException if {@code rerank} is given and the PMA trains (its vectors would go stale)
   */
  public static Result run(ModelBundle parent, Plan plan, TrainingSet train, TrainingSet heldOut, Path outDir,
      RerankSelection rerank) {
    if (rerank != null && plan.trainer().trainPma()) {
      throw new IllegalArgumentException("re-rank selection needs a frozen PMA: it re-ranks the parent's vectors");
    }
    Manifest pm = parent.manifest();
    if (plan.spec().dimension() != pm.dimension()) {
      throw new IllegalArgumentException("heads of dimension " + plan.spec().dimension() + " over a parent of "
          + pm.dimension());
    }
    Map<String, Tensor> initial = StudentHeads.initialTensors(plan.spec(), plan.trainer().seed(), plan.iemInit());
    Map<String, Tensor> inherited = inherit(parent, initial);
    Map<String, Tensor> trained;
    TrainingReport report;
    TrainingReport symmetricReport = null;
    try (NDManager root = DjlRuntime.engine().newBaseManager();
        StudentHeads heads = StudentHeads.fromTensors(root, inherited, plan.spec().heads())) {
      report = new Trainer(plan.trainer(), plan.loss()).fit(heads, train.examples(), heldOut.examples(), rerank);
      if (plan.similarity() != null) {
        Similarity sim = plan.similarity();
        // Only the symmetric projection trains: the search branch, the shared layers and the PMA stay as trained.
        symmetricReport = new Trainer(symmetricTrainer(sim), plan.loss()).fit(heads, sim.train().examples(),
            sim.heldOut().examples());
      }
      trained = heads.toTensors();
    }

    Map<String, Object> metrics = new LinkedHashMap<>();
    metrics.put("heldOut.examples", heldOut.size());
    metrics.put("heldOut.loss.before", round(report.initialHeldOutLoss()));
    metrics.put("heldOut.loss.best", round(report.bestHeldOutLoss()));
    metrics.put("train.bestEpoch", report.bestEpoch());
    metrics.put("train.epochs", report.epochs().size());
    metrics.put("train.steps", report.steps());
    if (heldOut.size() > 0) {
      metrics.putAll(rankMetrics(parent, trained, plan.spec(), heldOut));
      if (rerank != null) {
        metrics.put("heldOut.rerank.ndcg10.hnsw", round(rerank.hnswNdcg()));
        metrics.put("heldOut.rerank.ndcg10.iem", round(rerank.ndcg(HeadTensors.iem(trained, plan.spec().iemInput()))));
      }
    }
    if (symmetricReport != null) {
      metrics.put("symmetric.heldOut.loss.before", round(symmetricReport.initialHeldOutLoss()));
      metrics.put("symmetric.heldOut.loss.best", round(symmetricReport.bestHeldOutLoss()));
      metrics.put("symmetric.bestEpoch", symmetricReport.bestEpoch());
    }

    Map<String, Object> training = new LinkedHashMap<>();
    training.put("teacher", plan.teacherId());
    training.put("data", plan.data());
    training.put("loss", lossMap(plan.loss()));
    training.put("trainer", trainerMap(plan.trainer()));
    training.put("iemInit", plan.iemInit().id());
    training.put("selection", rerank == null ? "held-out loss" : "held-out re-rank nDCG@" + RerankSelection.K);
    training.put("examples", Map.of("train", train.size(), "heldOut", heldOut.size()));
    if (plan.similarity() != null) {
      training.put("symmetric", Map.of("data", plan.similarity().data(), "trainer",
          trainerMap(symmetricTrainer(plan.similarity())), "examples", Map.of("train", plan.similarity().train().size(),
          "heldOut", plan.similarity().heldOut().size())));
    }
    Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, plan.version(), parent.version(), pm.backbone(),
        pm.dimension(), Manifest.PoolingSpec.pma(plan.spec().heads()),
        Manifest.IemSpec.of(plan.spec().iemInput(), plan.spec().iemHidden()), null, training, metrics,
        Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    ModelBundle.write(outDir, manifest, new java.util.TreeMap<>(trained));
    ModelBundle bundle = ModelBundle.load(outDir);
    log.info("wrote bundle {} ({}): held-out {}", bundle.version(), outDir, metrics);
    return new Result(bundle, report, metrics);
  }

  /** The symmetric stage's effective settings: its branch only, PMA and shared IEM layers frozen. */
  static TrainerConfig symmetricTrainer(Similarity sim) {
    return sim.trainer().withBranch(IemHead.Branch.SYMMETRIC).withTrainPma(false).withTrainIem(true)
        .withFrozenShared();
  }

  /** The parent's tensors where it has a tensor of that name and shape; the fresh ones elsewhere. */
  static Map<String, Tensor> inherit(ModelBundle parent, Map<String, Tensor> initial) {
    Map<String, Tensor> fromParent = Safetensors.read(parent.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    Map<String, Tensor> out = new LinkedHashMap<>(initial);
    List<String> taken = new ArrayList<>();
    initial.forEach((name, t) -> {
      Tensor p = fromParent.get(name);
      if (p != null && Arrays.equals(p.shape(), t.shape())) {
        out.put(name, p);
        taken.add(name);
      }
    });
    log.info("heads start from parent {} for {} of {} tensors", parent.version(), taken.size(), initial.size());
    return out;
  }

  /** Mean reciprocal rank of the positive among each held-out example's candidates, four ways. */
  static Map<String, Object> rankMetrics(ModelBundle parent, Map<String, Tensor> trained, HeadsSpec spec,
      TrainingSet heldOut) {
    PmaHead pma = HeadTensors.pma(trained, spec.heads());
    IemHead iem = HeadTensors.iem(trained, spec.iemInput());
    double iemRr = 0;
    double cosRr = 0;
    double parentRr = 0;
    double teacherRr = 0;
    for (TrainingExample e : heldOut.examples()) {
      List<TokenSequence> candidates = new ArrayList<>();
      candidates.add(e.positive());
      candidates.addAll(e.negatives());
      float[] q = pool(pma, e.query());
      float[] pq = pool(parent.pooling(), e.query());
      List<float[]> ps = candidates.stream().map(c -> pool(pma, c)).toList();
      double[] cos = new double[ps.size()];
      double[] parentCos = new double[ps.size()];
      double[] teacher = new double[ps.size()];
      for (int i = 0; i < ps.size(); i++) {
        cos[i] = dot(q, ps.get(i));
        parentCos[i] = dot(pq, pool(parent.pooling(), candidates.get(i)));
        teacher[i] = e.teacherScores()[i];
      }
      float[] logits = iem.logits(q, ps, IemHead.Branch.ASYMMETRIC);
      double[] l = new double[logits.length];
      for (int i = 0; i < l.length; i++) {
        l[i] = logits[i];
      }
      iemRr += reciprocalRankOfFirst(l);
      cosRr += reciprocalRankOfFirst(cos);
      parentRr += reciprocalRankOfFirst(parentCos);
      teacherRr += reciprocalRankOfFirst(teacher);
    }
    int n = heldOut.size();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("heldOut.mrr.iem", round(iemRr / n));
    out.put("heldOut.mrr.cosine", round(cosRr / n));
    out.put("heldOut.mrr.parentCosine", round(parentRr / n));
    out.put("heldOut.mrr.teacher", round(teacherRr / n));
    return out;
  }

  /** 1 / rank of element 0 (ties count against it: a constant scorer gets no credit). */
  static double reciprocalRankOfFirst(double[] scores) {
    int rank = 1;
    for (int i = 1; i < scores.length; i++) {
      if (scores[i] >= scores[0]) {
        rank++;
      }
    }
    return 1.0 / rank;
  }

  static float[] pool(io.d2search.embed.Pooling pooling, TokenSequence s) {
    long[] mask = new long[s.tokens()];
    Arrays.fill(mask, 1);
    return pooling.pool(new TokenStates(s.data(), 1, s.tokens(), s.dim(), new long[][] {mask}), 0);
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }

  private static Map<String, Object> lossMap(LossConfig c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("objective", c.objective().name().toLowerCase(Locale.ROOT));
    m.put("inBatchWeight", c.inBatchWeight());
    m.put("inBatchTemperature", c.inBatchTemperature());
    m.put("alpha", c.alpha());
    m.put("ciTemperature", c.ciTemperature());
    m.put("beta", c.beta());
    m.put("gamma", c.gamma());
    m.put("eta", c.eta());
    m.put("hybridLambda", c.hybridLambda());
    return m;
  }

  private static Map<String, Object> trainerMap(TrainerConfig c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("epochs", c.epochs());
    m.put("batchSize", c.batchSize());
    m.put("learningRate", c.learningRate());
    m.put("warmupFraction", c.warmupFraction());
    m.put("weightDecay", c.weightDecay());
    m.put("clipNorm", c.clipNorm());
    m.put("seed", c.seed());
    m.put("patience", c.patience());
    m.put("branch", c.branch().name().toLowerCase(Locale.ROOT));
    m.put("trainPma", c.trainPma());
    m.put("trainSharedIem", c.trainSharedIem());
    m.put("trainIem", c.trainIem());
    return m;
  }

  private static double round(double x) {
    return Double.isFinite(x) ? Math.round(x * 1e6) / 1e6 : -1;
  }
}
