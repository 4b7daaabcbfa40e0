package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import io.d2search.bundle.TrainingWindow;
import io.d2search.embed.OnnxWeights;
import io.d2search.embed.PmaHead;
import io.d2search.embed.TextHash;
import io.d2search.embed.TokenStates;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.IdentityHashMap;
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
   * @param data where the examples came from (dataset, split, counts): recorded as the manifest's
   *     {@code training.data}
   * @param similarity a second stage training the IEM's symmetric branch (PMA frozen); null for none
   * @param iemInit how the IEM starts when the parent has none of the spec's shape
   * @param tuning the backbone layers the student fine-tunes; null: the backbone stays frozen
   */
  public record Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
      TrainingWindow data, Similarity similarity, IemInit iemInit, BackboneTuning tuning) {

    /** A plan that keeps the backbone frozen. */
    public Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
        TrainingWindow data, Similarity similarity, IemInit iemInit) {
      this(version, spec, trainer, loss, teacherId, data, similarity, iemInit, null);
    }

    /** A plan whose fresh IEM starts as {@link IemInit#defaultFor} its input. */
    public Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
        TrainingWindow data, Similarity similarity) {
      this(version, spec, trainer, loss, teacherId, data, similarity, IemInit.defaultFor(spec.iemInput()));
    }

    /** A plan without symmetric-branch training. */
    public Plan(String version, HeadsSpec spec, TrainerConfig trainer, LossConfig loss, String teacherId,
        TrainingWindow data) {
      this(version, spec, trainer, loss, teacherId, data, null);
    }

    public Plan {
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(spec, "spec");
      Objects.requireNonNull(trainer, "trainer");
      Objects.requireNonNull(loss, "loss");
      Objects.requireNonNull(teacherId, "teacherId");
      Objects.requireNonNull(iemInit, "iemInit");
      Objects.requireNonNull(data, "data");
      if (!spec.hasIem()) {
        throw new IllegalArgumentException("distillation trains an IEM: the spec needs one");
      }
    }
  }

  /**
   * Fine-tuning of the backbone's top layers, on the CPU-feasible pattern: the lower layers stay frozen (their
   * output is the examples' token states, from a {@link PartialBackbone} of {@code total - layers} layers), the top
   * {@code layers} train with the heads, and the bundle carries the parent's graph with those layers' weights
   * replaced ({@link ModelBundle#BACKBONE_FILE}), served by ONNX Runtime as before.
   *
   * @param layers how many top encoder layers train, ≥ 1
   * @param heads their attention heads
   */
  public record BackboneTuning(int layers, int heads) {
    public BackboneTuning {
      if (layers < 1 || heads < 1) {
        throw new IllegalArgumentException("tuned layers and heads must be >= 1: " + layers + ", " + heads);
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
    if (rerank != null && (plan.trainer().trainPma() || plan.tuning() != null)) {
      throw new IllegalArgumentException("re-rank selection needs a frozen PMA and backbone: it re-ranks the parent's "
          + "vectors");
    }
    Manifest pm = parent.manifest();
    if (plan.spec().dimension() != pm.dimension()) {
      throw new IllegalArgumentException("heads of dimension " + plan.spec().dimension() + " over a parent of "
          + pm.dimension());
    }
    Map<String, Tensor> initial = StudentHeads.initialTensors(plan.spec(), plan.trainer().seed(), plan.iemInit());
    Map<String, Tensor> inherited = inherit(parent, initial, plan.spec().iemInput());
    OnnxWeights parentGraph = null;
    if (plan.tuning() != null) {
      parentGraph = OnnxWeights.of(parent.backbone());
      int total = BertLayers.layerCount(parentGraph);
      if (plan.tuning().layers() > total) {
        throw new IllegalArgumentException("the backbone has " + total + " layers; cannot tune "
            + plan.tuning().layers());
      }
      inherited.putAll(BertLayers.tensors(parentGraph, total - plan.tuning().layers(), total));
    }
    Map<String, Tensor> trained;
    TrainingReport report;
    TrainingReport symmetricReport = null;
    TrainingSet parentHeldOut = heldOut; // the held-out token states as the parent's backbone ends them
    TrainingSet finalHeldOut = heldOut; // ... and as the student's does
    try (NDManager root = DjlRuntime.engine().newBaseManager();
        StudentHeads heads = StudentHeads.fromTensors(root, inherited, plan.spec().heads(), plan.spec().iemInput(),
            plan.tuning() == null ? BertLayers.DEFAULT_HEADS : plan.tuning().heads())) {
      if (plan.tuning() != null) {
        parentHeldOut = throughBackbone(heads, heldOut);
      }
      report = new Trainer(plan.trainer(), plan.loss()).fit(heads, train.examples(), heldOut.examples(), rerank);
      if (plan.similarity() != null) {
        Similarity sim = plan.similarity();
        // Only the symmetric projection trains: the search branch, the shared layers and the PMA stay as trained.
        symmetricReport = new Trainer(symmetricTrainer(sim), plan.loss()).fit(heads, sim.train().examples(),
            sim.heldOut().examples());
      }
      trained = heads.toTensors();
      if (plan.tuning() != null) {
        finalHeldOut = throughBackbone(heads, heldOut);
      }
    }
    Map<String, Tensor> headTensors = new LinkedHashMap<>();
    Map<String, float[]> backboneTensors = new LinkedHashMap<>();
    trained.forEach((name, t) -> {
      if (name.startsWith(BertLayers.PREFIX)) {
        backboneTensors.put(name.substring(BertLayers.PREFIX.length()), t.data());
      } else {
        headTensors.put(name, t);
      }
    });

    Map<String, Object> metrics = new LinkedHashMap<>();
    metrics.put("heldOut.examples", heldOut.size());
    metrics.put("heldOut.loss.before", round(report.initialHeldOutLoss()));
    metrics.put("heldOut.loss.best", round(report.bestHeldOutLoss()));
    metrics.put("train.bestEpoch", report.bestEpoch());
    metrics.put("train.epochs", report.epochs().size());
    metrics.put("train.steps", report.steps());
    if (heldOut.size() > 0) {
      metrics.putAll(rankMetrics(parent, headTensors, plan.spec(), finalHeldOut, parentHeldOut));
      if (rerank != null) {
        metrics.put("heldOut.rerank.ndcg10.hnsw", round(rerank.hnswNdcg()));
        metrics.put("heldOut.rerank.ndcg10.iem", round(rerank.ndcg(HeadTensors.iem(headTensors,
            plan.spec().iemInput()))));
      }
    }
    if (symmetricReport != null) {
      metrics.put("symmetric.heldOut.loss.before", round(symmetricReport.initialHeldOutLoss()));
      metrics.put("symmetric.heldOut.loss.best", round(symmetricReport.bestHeldOutLoss()));
      metrics.put("symmetric.bestEpoch", symmetricReport.bestEpoch());
    }

    Map<String, Object> training = new LinkedHashMap<>();
    training.put("teacher", plan.teacherId());
    training.put(TrainingWindow.KEY, plan.data().toMap());
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
    Manifest.BackboneSpec backbone = pm.backbone();
    Map<String, byte[]> files = new LinkedHashMap<>();
    if (plan.tuning() != null) {
      // Same base model and artifact, its own graph: the id says which layers changed, the sha256 pins the bytes.
      backbone = ModelBundle.carriedBackbone(parent, pm.backbone().id() + "+tuned-top" + plan.tuning().layers(),
          parentGraph.patched(backboneTensors), files);
      training.put("backboneTuning", Map.of("layers", plan.tuning().layers(), "heads", plan.tuning().heads(),
          "parentBackboneSha256", pm.backbone().sha256()));
    } else if (pm.backbone().inBundle()) {
      // The parent's own (tuned) graph, unchanged: copied, so this bundle stays loadable without its parent.
      backbone = ModelBundle.carriedBackbone(parent, pm.backbone().id(), parent.backbone().onnxBytes(), files);
    }
    Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, plan.version(), parent.version(), backbone,
        pm.dimension(), Manifest.PoolingSpec.pma(plan.spec().heads()),
        Manifest.IemSpec.of(plan.spec().iemInput(), plan.spec().iemHidden()), null, training, metrics,
        Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    ModelBundle.write(outDir, manifest, new java.util.TreeMap<>(headTensors), files);
    ModelBundle bundle = ModelBundle.load(outDir);
    log.info("wrote bundle {} ({}): held-out {}", bundle.version(), outDir, metrics);
    return new Result(bundle, report, metrics);
  }

  /** The symmetric stage's effective settings: its branch only; backbone, PMA and shared IEM layers frozen. */
  static TrainerConfig symmetricTrainer(Similarity sim) {
    return sim.trainer().withBranch(IemHead.Branch.SYMMETRIC).withTrainPma(false).withTrainIem(true)
        .withFrozenShared().withBackboneLearningRate(0);
  }

  /**
   * The parent's tensors where it has a tensor of that name and shape (its IEM's only if it reads the same input:
   * concat and interaction-only have the same shapes); the fresh ones elsewhere.
   */
  static Map<String, Tensor> inherit(ModelBundle parent, Map<String, Tensor> initial, IemHead.Input input) {
    Map<String, Tensor> fromParent = Safetensors.read(parent.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    Manifest.IemSpec parentIem = parent.manifest().iem();
    boolean sameIem = parentIem != null && parentIem.inputKind() == input;
    Map<String, Tensor> out = new LinkedHashMap<>(initial);
    List<String> taken = new ArrayList<>();
    initial.forEach((name, t) -> {
      Tensor p = IemBlock.NAMES.contains(name) && !sameIem ? null : fromParent.get(name);
      if (p != null && Arrays.equals(p.shape(), t.shape())) {
        out.put(name, p);
        taken.add(name);
      }
    });
    log.info("heads start from parent {} for {} of {} tensors", parent.version(), taken.size(), initial.size());
    return out;
  }

  /**
   * The examples with every token sequence replaced by the output of the heads' backbone layers (the backbone's
   * last states, what serving pools), computed without gradients.
   */
  static TrainingSet throughBackbone(StudentHeads heads, TrainingSet set) {
    BertLayers layers = heads.backbone().orElseThrow();
    Map<TokenSequence, TokenSequence> out = new IdentityHashMap<>();
    List<TokenSequence> distinct = new ArrayList<>();
    for (TrainingExample e : set.examples()) {
      for (TokenSequence s : sequences(e)) {
        if (out.putIfAbsent(s, s) == null) {
          distinct.add(s);
        }
      }
    }
    distinct.sort(Comparator.comparingInt(TokenSequence::tokens)); // similar lengths pad little
    int d = heads.spec().dimension();
    for (int from = 0; from < distinct.size(); from += 32) {
      List<TokenSequence> batch = distinct.subList(from, Math.min(distinct.size(), from + 32));
      int width;
      float[] result;
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        NDArray[] padded = FrozenPooling.pad(heads.manager(), batch, d);
        width = Math.toIntExact(padded[1].getShape().get(1)); // the padded length, as the result is laid out
        result = layers.forward(padded[0], padded[1]).toFloatArray();
      }
      for (int i = 0; i < batch.size(); i++) {
        float[] real = Arrays.copyOfRange(result, i * width * d, (i * width + batch.get(i).tokens()) * d);
        out.put(batch.get(i), new TokenSequence(real, batch.get(i).tokens(), d));
      }
    }
    List<TrainingExample> examples = set.examples().stream().map(e -> new TrainingExample(out.get(e.query()),
        out.get(e.positive()), e.negatives().stream().map(out::get).toList(), e.teacherScores(),
        e.teacherFeatures())).toList();
    return new TrainingSet(examples, set.queryIds());
  }

  private static List<TokenSequence> sequences(TrainingExample e) {
    List<TokenSequence> all = new ArrayList<>(List.of(e.query(), e.positive()));
    all.addAll(e.negatives());
    return all;
  }

  /**
   * Mean reciprocal rank of the positive among each held-out example's candidates, four ways.
   *
   * @param heldOut the examples with the student's final token states
   * @param parentHeldOut the same examples with the parent's (the same set unless the student tunes its backbone)
   */
  static Map<String, Object> rankMetrics(ModelBundle parent, Map<String, Tensor> trained, HeadsSpec spec,
      TrainingSet heldOut, TrainingSet parentHeldOut) {
    PmaHead pma = HeadTensors.pma(trained, spec.heads());
    IemHead iem = HeadTensors.iem(trained, spec.iemInput());
    double iemRr = 0;
    double cosRr = 0;
    double parentRr = 0;
    double teacherRr = 0;
    for (int x = 0; x < heldOut.size(); x++) {
      TrainingExample e = heldOut.examples().get(x);
      TrainingExample pe = parentHeldOut.examples().get(x);
      List<TokenSequence> candidates = new ArrayList<>();
      candidates.add(e.positive());
      candidates.addAll(e.negatives());
      List<TokenSequence> parentCandidates = sequences(pe).subList(1, 2 + pe.k());
      float[] q = pool(pma, e.query());
      float[] pq = pool(parent.pooling(), pe.query());
      List<float[]> ps = candidates.stream().map(c -> pool(pma, c)).toList();
      double[] cos = new double[ps.size()];
      double[] parentCos = new double[ps.size()];
      double[] teacher = new double[ps.size()];
      for (int i = 0; i < ps.size(); i++) {
        cos[i] = dot(q, ps.get(i));
        parentCos[i] = dot(pq, pool(parent.pooling(), parentCandidates.get(i)));
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
