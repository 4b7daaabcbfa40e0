package io.d2search.distill;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.LinearTracker;
import ai.djl.training.tracker.Tracker;
import io.d2search.bundle.Tensor;
import io.d2search.rank.IemHead;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a student's heads on in-memory examples (cached backbone token states plus teacher scores) with the
 * objective of a {@link LossConfig}: AdamW, linear warm-up then linear decay of the learning rate, clipping by
 * global gradient norm, early stopping on a held-out loss (the best epoch's parameters are restored), a progress
 * bar with loss and ETA, and a per-epoch report.
 *
 * <p>A step: pad the batch's B queries, B positives and B·K hard negatives to the longest, pool them all with one
 * forward of the backbone layers the heads tune, if any, and the PMA (or, when neither trains, gather the vectors
 * {@link FrozenPooling} pooled once), score each
 * query against its 1 + K candidates and against the other queries' positives with the IEM, take the loss,
 * backpropagate, clip, update. Every intermediate array lives in an {@link NDScope} closed at
 * the end of the step. All examples must have the same K and the heads' dimension.
 *
 * <p>Inputs are copied into libtorch-owned arrays and constants never enter the graph through DJL's
 * {@code mul/div(Number)}: see {@link Scalars} for the use-after-free that otherwise gives NaN gradients.
 *
 * <p>Reproducible: the shuffling is seeded, initialisation is the caller's (see {@link StudentHeads#create}),
 * and the engine's seed is set. Not thread-safe; one fit at a time per instance and per heads.
 */
public final class Trainer {
  private static final Logger log = LoggerFactory.getLogger(Trainer.class);

  private final TrainerConfig config;
  private final DistillationLoss loss;

  public Trainer(TrainerConfig config, LossConfig lossConfig) {
    this.config = Objects.requireNonNull(config, "config");
    this.loss = new DistillationLoss(lossConfig);
  }

  /**
   * Trains the heads in place.
   *
   * @param heads heads with an IEM; on return they hold the parameters with the best held-out loss (those they
   *     came with if no epoch beat them), with gradients detached
   * @param train training examples; the last batch of an epoch may be short
   * @param heldOut examples for early stopping; may be empty (then every epoch runs and the last one is kept)
   * @return what happened, epoch by epoch
   * @throws IllegalArgumentException if examples do not fit the heads or each other
   * @throws IllegalStateException if the loss becomes NaN or infinite
   */
  public TrainingReport fit(StudentHeads heads, List<TrainingExample> train, List<TrainingExample> heldOut) {
    return fit(heads, train, heldOut, null);
  }

  /**
   * How epochs are compared for early stopping and for which parameters are kept: a cost, lower is better.
   * Without one, the cost is the held-out loss.
   */
  @FunctionalInterface
  public interface Selection {
    /**
     * @param heads the heads as they are after an epoch (or before training); read them, do not change them
     * @param heldOutLoss their held-out loss
     */
    double cost(StudentHeads heads, double heldOutLoss);
  }

  /**
   * As {@link #fit(StudentHeads, List, List)}, comparing epochs by {@code selection} (null: the held-out loss).
   * The selection runs only when there are held-out examples.
   */
  public TrainingReport fit(StudentHeads heads, List<TrainingExample> train, List<TrainingExample> heldOut,
      Selection selection) {
    Selection select = selection != null ? selection : (h, loss) -> loss;
    IemBlock iem = heads.requireIem();
    if (train.isEmpty()) {
      throw new IllegalArgumentException("no training examples");
    }
    int k = train.get(0).k();
    checkExamples(heads, train, k);
    checkExamples(heads, heldOut, k);
    DjlRuntime.engine().setRandomSeed(Math.toIntExact(config.seed() & 0x7fffffffL));

    Map<String, NDArray> trainable = new LinkedHashMap<>();
    boolean tunesBackbone = heads.backbone().isPresent() && config.backboneLearningRate() > 0;
    Predicate<String> isTrainable = name -> name.startsWith(BertLayers.PREFIX) ? tunesBackbone
        : name.startsWith("pma.") ? config.trainPma()
        : config.trainIem() && (name.startsWith("iem.proj") ? !name.startsWith(otherBranch(config.branch()))
            : config.trainSharedIem());
    if (!config.trainPma() && !config.trainIem() && !tunesBackbone) {
      throw new IllegalArgumentException("nothing to train: neither the PMA nor the IEM, and the heads carry no "
          + "backbone layers");
    }
    heads.requireGradients(isTrainable);
    heads.parameters().forEach((name, p) -> {
      if (isTrainable.test(name)) {
        trainable.put(name, p);
      }
    });

    int stepsPerEpoch = (train.size() + config.batchSize() - 1) / config.batchSize();
    int totalSteps = stepsPerEpoch * config.epochs();
    Tracker schedule = schedule(totalSteps, config.learningRate());
    Tracker backboneSchedule = tunesBackbone ? schedule(totalSteps, config.backboneLearningRate()) : schedule;
    float decay = (float) config.weightDecay();
    Optimizers optimizers = new Optimizers(adamW(schedule, decay), adamW(schedule, 0f),
        adamW(backboneSchedule, decay), adamW(backboneSchedule, 0f));

    // A PMA that does not train (on backbone layers that do not either) pools each text the same way every step:
    // pool once.
    FrozenPooling frozen = config.trainPma() || tunesBackbone ? null
        : FrozenPooling.of(heads, List.of(train, heldOut));
    Evaluation initial = heldOut.isEmpty() ? null : evaluate(heads, heldOut, frozen);
    double best = initial == null ? Double.NaN : select.cost(heads, initial.loss());
    log.info("Training {} parameters ({} tensors) on {} examples ({} held out), {} steps of {}, K = {}; held-out "
        + "loss before training {}{}", count(trainable), trainable.size(), train.size(), heldOut.size(), totalSteps,
        config.batchSize(), k, fmt(initial == null ? Double.NaN : initial.loss()),
        selection == null ? "" : ", selection cost " + fmt(best));
    Map<String, Tensor> bestTensors = initial == null ? null : heads.toTensors();
    int bestEpoch = 0;
    int sinceBest = 0;
    boolean stoppedEarly = false;
    long steps = 0;
    List<TrainingReport.Epoch> epochs = new ArrayList<>();
    Random random = new Random(config.seed());
    List<Integer> order = new ArrayList<>(IntStream.range(0, train.size()).boxed().toList());
    try (ProgressBar bar = progressBar(totalSteps)) {
      for (int epoch = 1; epoch <= config.epochs(); epoch++) {
        long start = System.nanoTime();
        Collections.shuffle(order, random);
        double lossSum = 0;
        double normSum = 0;
        int batches = 0;
        for (int from = 0; from < order.size(); from += config.batchSize()) {
          List<TrainingExample> batch = new ArrayList<>();
          for (int i = from; i < Math.min(order.size(), from + config.batchSize()); i++) {
            batch.add(train.get(order.get(i)));
          }
          double[] lossAndNorm = step(heads, iem, batch, frozen, trainable, optimizers, steps);
          lossSum += lossAndNorm[0];
          normSum += lossAndNorm[1];
          batches++;
          steps++;
          if (bar != null) {
            bar.step();
            bar.setExtraMessage(String.format(Locale.ROOT, "epoch %d/%d loss %.4f", epoch, config.epochs(),
                lossSum / batches));
          }
        }
        Evaluation eval = heldOut.isEmpty() ? null : evaluate(heads, heldOut, frozen);
        double heldOutLoss = eval == null ? Double.NaN : eval.loss();
        TrainingReport.Epoch report = new TrainingReport.Epoch(epoch, lossSum / batches, heldOutLoss,
            eval == null ? Map.of() : eval.terms(), schedule.getNewValue(Math.toIntExact(steps)), normSum / batches,
            (System.nanoTime() - start) / 1_000_000);
        epochs.add(report);
        log.info("epoch {}/{}: train loss {}, held-out loss {}, lr {}, grad norm {}, {} ms", epoch, config.epochs(),
            fmt(report.trainLoss()), fmt(heldOutLoss), fmt(report.learningRate()), fmt(report.gradientNorm()),
            report.millis());
        double cost = eval == null ? Double.NaN : select.cost(heads, heldOutLoss);
        if (selection != null && eval != null) {
          log.info("epoch {}/{}: selection cost {} (best so far {})", epoch, config.epochs(), fmt(cost), fmt(best));
        }
        if (eval == null) {
          bestEpoch = epoch;
        } else if (cost < best - config.minImprovement()) {
          best = cost;
          bestEpoch = epoch;
          bestTensors = heads.toTensors();
          sinceBest = 0;
        } else if (++sinceBest >= config.patience()) {
          stoppedEarly = epoch < config.epochs();
          if (stoppedEarly) {
            log.info("stopping early: no held-out improvement for {} epochs; best was epoch {}", sinceBest,
                bestEpoch);
          }
          break;
        }
      }
    } finally {
      heads.requireGradients(name -> false);
    }
    if (bestTensors != null && bestEpoch != epochs.size()) {
      heads.restore(bestTensors);
      log.info("restored the parameters of {}", bestEpoch == 0 ? "before training" : "epoch " + bestEpoch);
    }
    return new TrainingReport(epochs, initial == null ? Double.NaN : initial.loss(), bestEpoch, stoppedEarly, steps);
  }

  /**
   * Mean loss and terms over examples, in batches of the configured size, without gradients.
   *
   * @param loss mean of the batch losses
   * @param terms mean of each weighted term
   */
  public record Evaluation(double loss, Map<String, Double> terms) {}

  /** The objective on these examples with the heads as they are (no update). */
  public Evaluation evaluate(StudentHeads heads, List<TrainingExample> examples) {
    return evaluate(heads, examples, null);
  }

  private Evaluation evaluate(StudentHeads heads, List<TrainingExample> examples, FrozenPooling frozen) {
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("no examples to evaluate");
    }
    checkExamples(heads, examples, examples.get(0).k());
    IemBlock iem = heads.requireIem();
    double sum = 0;
    Map<String, Double> terms = new LinkedHashMap<>();
    int batches = 0;
    for (int from = 0; from < examples.size(); from += config.batchSize()) {
      List<TrainingExample> batch = examples.subList(from, Math.min(examples.size(), from + config.batchSize()));
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        DistillationLoss.Result r = forward(heads.manager(), heads, iem, batch, frozen);
        sum += Losses.value(r.total());
        r.terms().forEach((name, v) -> terms.merge(name, Losses.value(v), Double::sum));
      }
      batches++;
    }
    int n = batches;
    terms.replaceAll((name, v) -> v / n);
    return new Evaluation(sum / n, terms);
  }

  /** One optimizer step; returns {loss, gradient norm before clipping}. */
  private double[] step(StudentHeads heads, IemBlock iem, List<TrainingExample> batch, FrozenPooling frozen,
      Map<String, NDArray> trainable, Optimizers optimizers, long stepIndex) {
    double value;
    double norm;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        DistillationLoss.Result r = forward(heads.manager(), heads, iem, batch, frozen);
        value = Losses.value(r.total());
        if (!Double.isFinite(value)) {
          throw new IllegalStateException("loss is " + value + " at step " + stepIndex + " " + termsOf(r));
        }
        collector.backward(r.total());
      }
      double squares = 0;
      for (NDArray p : trainable.values()) {
        squares += Losses.value(p.getGradient().square().sum());
      }
      norm = Math.sqrt(squares);
    }
    double scale = norm > config.clipNorm() ? config.clipNorm() / norm : 1.0;
    // Outside any scope: the optimizers create their moment arrays on the first update and keep them.
    for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
      NDArray p = e.getValue();
      NDArray g = p.getGradient();
      NDArray clipped = scale < 1 ? Scalars.mul(g, scale) : g;
      optimizers.of(e.getKey()).update(e.getKey(), p, clipped); // also zeroes p's gradient
      if (clipped != g) {
        clipped.close();
      }
      g.close();
    }
    return new double[] {value, norm};
  }

  /** Forward pass and loss of one batch; every array it creates is registered with the caller's scope. */
  private DistillationLoss.Result forward(NDManager manager, StudentHeads heads, IemBlock iem,
      List<TrainingExample> batch, FrozenPooling frozen) {
    int b = batch.size();
    int k = batch.get(0).k();
    int d = heads.spec().dimension();
    List<TokenSequence> sequences = new ArrayList<>(b * (2 + k));
    batch.forEach(e -> sequences.add(e.query()));
    batch.forEach(e -> sequences.add(e.positive()));
    batch.forEach(e -> sequences.addAll(e.negatives()));
    NDArray pooled = frozen != null ? frozen.gather(manager, sequences)
        : FrozenPooling.pool(heads, manager, sequences); // [B(2+K), d]
    NDArray q = pooled.get("0:" + b);
    NDArray positives = pooled.get(b + ":" + 2 * b);
    NDArray negatives = pooled.get(2 * b + ":").reshape(b, k, d);
    NDArray candidates = NDArrays.concat(new NDList(positives.expandDims(1), negatives), 1); // [B, 1+K, d]
    IemBlock.Output out = iem.forward(q.expandDims(1).broadcast(new Shape(b, 1 + k, d)), candidates,
        config.branch());
    NDArray inBatch = iem.pairwiseLogits(q, positives, config.branch()); // [B, B]

    float[] scores = new float[b * (1 + k)];
    for (int i = 0; i < b; i++) {
      System.arraycopy(batch.get(i).teacherScores(), 0, scores, i * (1 + k), 1 + k);
    }
    NDArray teacherFeatures = null;
    float[][] first = batch.get(0).teacherFeatures();
    if (first != null && batch.stream().allMatch(e -> e.teacherFeatures() != null
        && e.teacherFeatures()[0].length == first[0].length)) {
      int f = first[0].length;
      float[] flat = new float[b * (1 + k) * f];
      for (int i = 0; i < b; i++) {
        for (int c = 0; c <= k; c++) {
          System.arraycopy(batch.get(i).teacherFeatures()[c], 0, flat, (i * (1 + k) + c) * f, f);
        }
      }
      teacherFeatures = Scalars.owned(manager, flat, new Shape(b, 1 + k, f));
    }
    return loss.compute(new DistillationLoss.Student(out.logits(), out.features(), inBatch),
        new DistillationLoss.Teacher(Scalars.owned(manager, scores, new Shape(b, 1 + k)), teacherFeatures));
  }

  /** AdamW per parameter group: heads and backbone layers (their own peak rate), each with and without decay. */
  private record Optimizers(Optimizer heads, Optimizer headsNoDecay, Optimizer backbone, Optimizer backboneNoDecay) {
    Optimizer of(String name) {
      boolean decay = decays(name);
      return name.startsWith(BertLayers.PREFIX) ? (decay ? backbone : backboneNoDecay)
          : decay ? heads : headsNoDecay;
    }
  }

  private static Optimizer adamW(Tracker schedule, float weightDecay) {
    return Optimizer.adamW().optLearningRateTracker(schedule).optWeightDecays(weightDecay).build();
  }

  /** Linear warm-up from 0 to the peak, then linear decay towards 0 at the last step. */
  Tracker schedule(int totalSteps) {
    return schedule(totalSteps, config.learningRate());
  }

  private Tracker schedule(int totalSteps, double peakRate) {
    float peak = (float) peakRate;
    int warmup = (int) Math.round(config.warmupFraction() * totalSteps);
    int decaySteps = Math.max(1, totalSteps - warmup);
    Tracker decay = LinearTracker.builder().setBaseValue(peak).optSlope(-peak / (decaySteps + 1))
        .optMaxUpdates(decaySteps).build();
    return warmup == 0 ? decay : Tracker.warmUp().setMainTracker(decay).optWarmUpSteps(warmup)
        .optWarmUpBeginValue(0f).build();
  }

  private ProgressBar progressBar(int totalSteps) {
    if (config.progress() == TrainerConfig.Progress.NONE) {
      return null;
    }
    ProgressBarBuilder builder = new ProgressBarBuilder().setTaskName("distill").setInitialMax(totalSteps)
        .setUnit(" steps", 1).setStyle(ProgressBarStyle.ASCII);
    if (config.progress() == TrainerConfig.Progress.LOG) {
      builder.setConsumer(new DelegatingProgressBarConsumer(log::info)).setUpdateIntervalMillis(1000);
    }
    return builder.build();
  }

  private static void checkExamples(StudentHeads heads, List<TrainingExample> examples, int k) {
    int d = heads.spec().dimension();
    for (TrainingExample e : examples) {
      if (e.k() != k) {
        throw new IllegalArgumentException("every example needs the same number of hard negatives: " + e.k()
            + " vs " + k);
      }
      if (e.query().dim() != d) {
        throw new IllegalArgumentException("token states have size " + e.query().dim() + ", heads expect " + d);
      }
    }
  }

  /** Weight matrices decay; biases, LayerNorm parameters and the seed do not. */
  static boolean decays(String name) {
    return name.endsWith(".weight") && !name.contains(".ln") && !name.contains("LayerNorm");
  }

  private static String otherBranch(IemHead.Branch branch) {
    return branch == IemHead.Branch.SYMMETRIC ? "iem.proj1." : "iem.proj0.";
  }

  private static long count(Map<String, NDArray> params) {
    return params.values().stream().mapToLong(p -> p.getShape().size()).sum();
  }

  private static Map<String, Double> termsOf(DistillationLoss.Result r) {
    Map<String, Double> out = new LinkedHashMap<>();
    r.terms().forEach((name, v) -> out.put(name, Losses.value(v)));
    return out;
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.5g", v);
  }
}
