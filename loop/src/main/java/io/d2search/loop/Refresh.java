package io.d2search.loop;

import io.d2search.events.ReleaseKind;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import io.d2search.data.BeirDataset;
import io.d2search.distill.Distillation;
import io.d2search.distill.PartialBackbone;
import io.d2search.distill.TuningMemory;
import io.d2search.distill.DistillRun;
import io.d2search.distill.HeadsSpec;
import io.d2search.distill.IemInit;
import io.d2search.distill.JudgedQuery;
import io.d2search.distill.NegativeMiner;
import io.d2search.distill.TokenStateCache;
import io.d2search.distill.TokenStateSource;
import io.d2search.distill.TrainerConfig;
import io.d2search.distill.TrainingSet;
import io.d2search.distill.TrainingSetBuilder;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageRanker;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHead;
import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One refresh from click feedback: of the IEM head (a HEADS candidate: the backbone and PMA stay the parent's, so the
 * index's passage vectors stay valid), or with {@code distiller.refresh.kind=full} of the PMA head too (a FULL
 * candidate, judged over an index of its own vectors; with {@code distiller.tune-layers} the backbone's top layers
 * train too):
 *
 * <ol>
 *   <li>splits the feedback by query text ({@link HeldOutRule}): the gate's slice, never trained on; a validation
 *       slice for early stopping; the rest trains;
 *   <li>gives each training list K negatives: the results users skipped above their click first, then hard
 *       negatives mined from the replica of the serving index (HNSW and BM25);
 *   <li>has the teacher score every (query, passage) pair, then trains the IEM from the parent's (warm start) on
 *       the backbone's cached token states ({@link Distillation});
 *   <li>writes the candidate bundle atomically into a directory of its own (never half a bundle), and judges it
 *       against the parent by the {@link ReleaseGate}.
 * </ol>
 *
 * <p>Releasing is the caller's decision. Instances are immutable; one refresh runs at a time per cache directory.
 */
public final class Refresh {
  private static final Logger log = LoggerFactory.getLogger(Refresh.class);

  /** What a refusal of backbone tuning tells an operator to change: the distiller's settings. */
  private static final TuningMemory.Knobs MEMORY_KNOBS = new TuningMemory.Knobs("distiller.batch-size",
      "distiller.tune-layers", "distiller.negatives", "set distiller.memory-check=false");

  /** Where the slow, reusable parts live: backbone token states (and, through the teacher, its own caches). */
  private final Path tokenStates;
  private final DistillerConfig config;
  private final RankingSetup ranking;
  private final DistillRun.TeacherSource teacher;

  public Refresh(DistillerConfig config, RankingSetup ranking, DistillRun.TeacherSource teacher) {
    this.config = Objects.requireNonNull(config, "config");
    this.ranking = Objects.requireNonNull(ranking, "ranking");
    this.teacher = Objects.requireNonNull(teacher, "teacher");
    this.tokenStates = config.stateDir().resolve("cache").resolve("token-states");
  }

  /**
   * What a refresh made.
   *
   * @param candidate the candidate; null when skipped before training
   * @param verdict the gate's verdict on held-out feedback; null when skipped
   * @param judged its verdict on held-out judged queries; null when skipped or not configured
   * @param skipped why it did not train; null when it did
   */
  public record Outcome(ModelBundle candidate, ReleaseGate.Verdict verdict, ReleaseGate.Verdict judged,
      int trainLists, int validationLists, int heldOutLists, String skipped) {

    /** Whether every gate configured passed the candidate. */
    public boolean passed() {
      return verdict != null && verdict.passed() && (judged == null || judged.passed());
    }

    /** The gates' reasons. */
    public String reason() {
      return judged == null ? verdict.reason() : verdict.reason() + "; " + judged.reason();
    }

    /** Every gate's figures: {@code gate.*} for the feedback, {@code gate.judged.*} for judged queries. */
    public Map<String, Double> metrics() {
      Map<String, Double> m = new LinkedHashMap<>(verdict.metrics());
      if (judged != null) {
        m.putAll(judged.metrics("gate.judged."));
      }
      return m;
    }
  }

  /**
   * Runs one refresh.
   *
   * @param parent the current release: trained from, and the baseline of the gate
   * @param embedder the embedder of the index's vectors (the parent's backbone and PMA)
   * @param index the replica of the serving index, caught up
   * @param feedback the lists read so far
   * @param version the candidate's version
   * @param out the candidate's directory; must not exist
   * @param kind what it trains: {@code HEADS} the IEM head, {@code FULL} the PMA head too
   */
  public Outcome run(ModelBundle parent, Embedder embedder, PassageIndex index, List<FeedbackList> feedback,
      String version, Path out, ReleaseKind kind) {
    HeldOutRule gateSlice = new HeldOutRule(HeldOutRule.GATE, config.gateFraction());
    HeldOutRule validationSlice = new HeldOutRule(HeldOutRule.VALIDATION, config.validationFraction());
    Map<String, String> documentText = new HashMap<>();
    index.forEachPassage(p -> documentText.put(p.passageId(), EmbedText.of(p.title(), p.text())));
    List<FeedbackList> gate = new ArrayList<>();
    List<FeedbackList> validation = new ArrayList<>();
    List<FeedbackList> train = new ArrayList<>();
    for (FeedbackList list : feedback) {
      // A clicked passage since deleted teaches nothing and judges nothing.
      FeedbackList kept = list.keeping(documentText::containsKey);
      if (kept == null) {
        continue;
      }
      (gateSlice.contains(list.query()) ? gate : validationSlice.contains(list.query()) ? validation : train)
          .add(kept);
    }
    if (train.size() < config.minTrainingLists()) {
      return new Outcome(null, null, null, train.size(), validation.size(), gate.size(), "only " + train.size()
          + " training lists; a refresh needs " + config.minTrainingLists() + " (distiller.min-training-lists)");
    }
    if (gate.size() < config.gate().minQueries()) {
      // Training first would waste the refresh: the gate could not judge the candidate.
      return new Outcome(null, null, null, train.size(), validation.size(), gate.size(), "only " + gate.size()
          + " held-out feedback queries; the gate needs " + config.gate().minQueries()
          + " (distiller.gate.min-queries)");
    }
    boolean full = kind == ReleaseKind.FULL;
    // Backbone layers change the passage vectors: a FULL refresh only.
    DistillerConfig.BackboneTuning tuning = full ? config.tuning() : null;
    if (tuning != null && tuning.memoryCheck()) {
      String refusal = new TuningMemory(tuning.layers(), parent.manifest().dimension(), tuning.heads(),
          parent.manifest().backbone().maxTokens(), config.batchSize(), config.negatives())
          .refusal(Runtime.getRuntime().maxMemory(), TuningMemory.physicalBytes(), MEMORY_KNOBS);
      if (refusal != null) {
        return new Outcome(null, null, null, train.size(), validation.size(), gate.size(), refusal);
      }
    }
    log.info("Refresh {} ({}{}) from {}: {} training, {} validation, {} gate lists over {} passages", version,
        kind, tuning == null ? "" : ", backbone's top " + tuning.layers() + " layers", parent.version(), train.size(),
        validation.size(), gate.size(), documentText.size());

    IemHead.Input input = parent.manifest().iem() != null ? parent.manifest().iem().inputKind()
        : IemHead.Input.INTERACTION_ONLY;
    String teacherId;
    TrainingSet trainSet;
    TrainingSet validationSet;
    List<String> corpusTexts = List.copyOf(new java.util.TreeSet<>(documentText.values()));
    // Training reads the states the trained part starts from: the backbone's last ones, or those under the tuned
    // layers (computed by the layers below, cached under their own identity).
    try (PartialBackbone frozenLayers = tuning == null ? null : PartialBackbone.belowTop(parent.backbone(),
            parent.backboneSha256(), embedder.info().maxTokens(), tuning.layers(), tuning.heads(),
            embedder.config().batchSize());
        TokenStateCache states = frozenLayers == null ? TokenStateCache.open(tokenStates, embedder.info())
            : TokenStateCache.open(tokenStates, frozenLayers.backboneSha256(), frozenLayers.maxTokens(),
                frozenLayers.dimension());
        Teacher labeller = teacher.open(corpusTexts)) {
      teacherId = labeller.id();
      NegativeMiner miner = new NegativeMiner(new IndexRetriever(index, embedder, RetrievalMode.VECTOR),
          new IndexRetriever(index, embedder, RetrievalMode.KEYWORD), config.negatives(), config.denseNegatives(),
          config.negativeDepth());
      TrainingSetBuilder builder = new TrainingSetBuilder(miner, labeller,
          labeller instanceof FeatureTeacher f ? f : null, states,
          frozenLayers == null ? TokenStateSource.of(embedder) : frozenLayers, documentText);
      trainSet = builder.build(judged(train), skipped(train), "refresh " + version + " train");
      validationSet = builder.build(judged(validation), skipped(validation), "refresh " + version + " validation");
    }
    HeadsSpec spec = HeadsSpec.of(parent.manifest().dimension(), parent.manifest().pooling().heads() != null
        ? parent.manifest().pooling().heads() : ModelBundle.VERSION_ZERO_HEADS, input);
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(config.epochs()).withBatchSize(config.batchSize())
        .withLearningRate(config.learningRate()).withSeed(config.seed()).withTrainPma(full)
        .withProgress(TrainerConfig.Progress.LOG)
        .withBackboneLearningRate(tuning == null ? 0 : tuning.learningRate());
    TrainingWindow window = new TrainingWindow(FEEDBACK, io.d2search.schemas.Topics.TRAINING_PAIRS, null,
        train.size() + validation.size() + gate.size(), true, gate.size(), "query-hash", null,
        new TrainingWindow.Negatives(config.negatives(), config.denseNegatives(), config.negativeDepth(),
            "index " + index.modelVersion() + " HNSW (after the skipped results)", "bm25"));
    Distillation.Result result = Distillation.run(parent, new Distillation.Plan(version, spec, trainer,
        config.loss(), teacherId, window, null, IemInit.defaultFor(input), tuning == null ? null : tuning.plan()),
        trainSet,
        validationSet.size() > 0 ? validationSet : trainSet, out);
    ModelBundle candidate = result.bundle();
    ReleaseGate releaseGate = new ReleaseGate(config.gate(), config.seed());
    ReleaseGate.Side current = new ReleaseGate.Side(index, embedder::embed,
        ranking.ranker(parent.iem().orElse(null)));
    ReleaseGate.Verdict verdict;
    ReleaseGate.Verdict judged;
    if (candidate.passageVectorsId().equals(parent.passageVectorsId())) {
      ReleaseGate.Side next = new ReleaseGate.Side(index, embedder::embed,
          ranking.ranker(candidate.iem().orElseThrow()));
      verdict = releaseGate.judge(gate, current, next, ranking.mode());
      judged = config.judged() == null ? null : releaseGate.judgeJudged(judgedHeldOut(config.judged(), gateSlice),
          current, next, ranking.mode());
    } else {
      // Other passage vectors: the candidate is judged as it would serve, over an index of its own vectors.
      Path gateIndex = config.stateDir().resolve("gate-index").resolve(version);
      try (Embedder candidateEmbedder = candidate.embedder(embedder.config());
          PassageIndex candidateIndex = reembed(index, candidateEmbedder, gateIndex)) {
        ReleaseGate.Side next = new ReleaseGate.Side(candidateIndex, candidateEmbedder::embed,
            ranking.ranker(candidate.iem().orElseThrow()));
        verdict = releaseGate.judge(gate, current, next, ranking.mode());
        judged = config.judged() == null ? null : releaseGate.judgeJudged(judgedHeldOut(config.judged(), gateSlice),
            current, next, ranking.mode());
      } finally {
        deleteRecursively(gateIndex);
      }
    }
    Outcome outcome = new Outcome(candidate, verdict, judged, train.size(), validation.size(), gate.size(), null);
    log.info("Refresh {}: gate {}: {}", version, outcome.passed() ? "passed" : "refused", outcome.reason());
    return outcome;
  }

  /**
   * Every passage of the replica embedded by a candidate with other passage vectors, into a fresh index at
   * {@code dir} (stamped with the candidate's version): what the query service would search once the indexer has
   * re-embedded everything for the release.
   */
  private static PassageIndex reembed(PassageIndex replica, Embedder candidate, Path dir) {
    deleteRecursively(dir);
    List<io.d2search.index.StoredPassage> passages = new ArrayList<>();
    replica.forEachPassage(passages::add);
    String version = candidate.info().version();
    PassageIndex out = PassageIndex.open(dir, version, replica.config());
    try {
      long started = System.nanoTime();
      int batch = 32;
      for (int from = 0; from < passages.size(); from += batch) {
        List<io.d2search.index.StoredPassage> slice = passages.subList(from, Math.min(passages.size(), from + batch));
        List<float[]> vectors = candidate.embed(slice.stream().map(p -> EmbedText.of(p.title(), p.text())).toList());
        for (int i = 0; i < slice.size(); i++) {
          io.d2search.index.StoredPassage p = slice.get(i);
          List<Float> values = new ArrayList<>(vectors.get(i).length);
          for (float v : vectors.get(i)) {
            values.add(v);
          }
          out.upsert(p.passageId(), io.d2search.events.PassageEmbedding.newBuilder().setDocId(p.docId()).setN(p.n())
              .setModelVersion(version).setVector(values).setTextHash(p.textHash()).setTitle(p.title())
              .setText(p.text()).setDocVersion(p.docVersion()).setUrl(p.url()).build());
        }
      }
      out.commit(Map.of());
      out.refresh();
      log.info("Embedded {} passages with candidate {} for the gate in {} s", passages.size(), version,
          (System.nanoTime() - started) / 1_000_000_000);
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  private static void deleteRecursively(Path dir) {
    if (!java.nio.file.Files.exists(dir)) {
      return;
    }
    try (var walk = java.nio.file.Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** {@code training.data.source} of a bundle trained on click feedback. */
  public static final String FEEDBACK = "feedback";

  /** The judged split's queries in the gate's slice that have a relevant document. */
  private static List<ReleaseGate.JudgedQuery> judgedHeldOut(DistillerConfig.JudgedGate judged, HeldOutRule slice) {
    BeirDataset data = BeirDataset.load(judged.beir(), judged.split());
    List<ReleaseGate.JudgedQuery> out = new ArrayList<>();
    data.qrels().forEach((id, grades) -> {
      String text = data.queries().get(id);
      if (text != null && slice.contains(text) && grades.values().stream().anyMatch(g -> g > 0)) {
        out.add(new ReleaseGate.JudgedQuery(text, grades));
      }
    });
    return out;
  }

  private static List<JudgedQuery> judged(List<FeedbackList> lists) {
    return lists.stream().map(l -> new JudgedQuery(l.queryId(), l.query(), l.positives())).toList();
  }

  private static Map<String, List<String>> skipped(List<FeedbackList> lists) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    lists.forEach(l -> out.put(l.queryId(), l.skipped()));
    return out;
  }
}
