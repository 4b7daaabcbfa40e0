package io.d2search.distill;

import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import io.d2search.data.BeirDataset;
import io.d2search.data.StsBenchmark;
import io.d2search.data.VectorCache;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.TextHash;
import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Distils a teacher into a new student bundle from judged BEIR data, as a {@link DistillPlan} says: every judged
 * query with a relevant document (and every pseudo-query) becomes a training list (query, positive, K hard
 * negatives mined from the parent's index and BM25) labelled by the teacher; the heads train on cached backbone
 * token states ({@link Distillation}); a held-out slice of the queries stops training early and is measured; the
 * bundle is written with its manifest, whose {@code training.data} is the plan's {@link TrainingWindow}.
 *
 * <p>What differs between hosts comes in through the constructor ({@link Environment}): where the caches are, the
 * embedder's settings, the HNSW parameters, and the teacher. The run prints nothing: each step's outcome goes to a
 * {@link Listener} as it happens and comes back in the {@link DistillReport}. Instances are immutable; one may run
 * several plans, one after another or at once into different directories (the caches are shared files, so
 * concurrent runs should use different ones).
 */
public final class DistillRun {
  private static final Logger log = LoggerFactory.getLogger(DistillRun.class);

  /** Random negatives per sentence-pair list of the symmetric stage. */
  public static final int SIMILARITY_NEGATIVES = 3;
  /** Candidates the held-out re-rank selection re-ranks per query: the query service's and eval's default depth. */
  public static final int RERANK_DEPTH = 100;
  /** Why a plan with neither judged training queries nor pseudo-queries is refused. */
  static final String NOTHING_TO_TRAIN = "nothing to train on: --no-judged-training needs --pseudo-queries";

  /** Opens the teacher that labels the training lists; the run closes it. */
  @FunctionalInterface
  public interface TeacherSource {
    /**
     * @param corpusTexts every document's text, in corpus order (a teacher may precompute over them, or take
     *     BM25 statistics)
     */
    Teacher open(List<String> corpusTexts);
  }

  /** Gets each step's outcome when the run reaches it (before training, which takes longest). */
  @FunctionalInterface
  public interface Listener {
    void step(DistillReport.Step step);

    /** Logs each step at INFO. */
    static Listener log() {
      return step -> log.info(step.describe());
    }
  }

  /**
   * Where the run keeps what is slow to compute and the same across runs. All three may be shared with eval and
   * other runs: entries are keyed by what they depend on.
   *
   * @param vectors corpus vectors per bundle
   * @param tokenStates backbone token states
   * @param labels the teacher's labelled lists, one file per labelling set-up ({@link #labelSetup})
   */
  public record Caches(Path vectors, Path tokenStates, Path labels) {
    public Caches {
      Objects.requireNonNull(vectors, "vectors");
      Objects.requireNonNull(tokenStates, "tokenStates");
      Objects.requireNonNull(labels, "labels");
    }

    /** Labels in {@code labels} beside the vector cache, where {@code distill} has always kept them. */
    public Caches(Path vectors, Path tokenStates) {
      this(vectors, tokenStates, vectors.resolveSibling("labels"));
    }
  }

  /**
   * What a run needs from the application that hosts it.
   *
   * @param embedder settings of the parent's embedder (batch size, threads, provider); the bundle supplies the model
   * @param caches the caches
   * @param hnswM HNSW {@code M} of the parent's index that negatives are mined from
   * @param hnswBeamWidth its construction beam width
   * @param teacher the teacher
   */
  public record Environment(EmbedderConfig embedder, Caches caches, int hnswM, int hnswBeamWidth,
      TeacherSource teacher) {
    public Environment {
      Objects.requireNonNull(embedder, "embedder");
      Objects.requireNonNull(caches, "caches");
      Objects.requireNonNull(teacher, "teacher");
    }
  }

  /**
   * A plan this machine or this data cannot run, found before the hour of training: its estimated memory exceeds
   * the machine's, or the data leaves nothing to train on. The message says why and which option changes it.
   */
  public static final class Refused extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message);
    }
  }

  private final Environment env;

  public DistillRun(Environment env) {
    this.env = Objects.requireNonNull(env, "env");
  }

  /**
   * Runs a plan from a parent bundle and writes the new bundle to {@link DistillPlan#out()}.
   *
   * @param parent the bundle to start from and mine negatives with
   * @param listener gets each step's outcome as the run reaches it
   * @return what the run did, with the bundle written
   * @throws Refused if the plan cannot run here (memory) or on this data (nothing to train on)
   * @throws io.d2search.bundle.BundleException if {@code plan.out()} already holds a bundle
   * @throws IllegalArgumentException if the plan does not fit the parent or the data
   */
  public DistillReport run(ModelBundle parent, DistillPlan plan, Listener listener) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(plan, "plan");
    Objects.requireNonNull(listener, "listener");
    ModelBundle.requireWritable(plan.out()); // before the hour of work, not after
    if (plan.tuning() != null && plan.memoryCheck()) {
      TuningMemory memory = new TuningMemory(plan.tuning().layers(), parent.manifest().dimension(),
          plan.tuning().heads(), parent.manifest().backbone().maxTokens(), plan.trainer().batchSize(),
          plan.mining().k());
      String refusal = memory.refusal(Runtime.getRuntime().maxMemory(), TuningMemory.physicalBytes());
      if (refusal != null) {
        throw new Refused(refusal);
      }
    }
    long seed = plan.trainer().seed();
    BeirDataset data = BeirDataset.load(plan.beir(), plan.split());
    List<EvalPassage> docs = EvalPassage.wholeDocs(data);
    List<String> texts = EvalPassage.texts(docs);
    Map<String, String> textOf = new HashMap<>();
    docs.forEach(d -> textOf.put(d.docId(), d.embedText()));
    List<JudgedQuery> judged = JudgedQuery.fromQrels(data);
    var dataRead = new DistillReport.DataRead(String.valueOf(plan.beir().getFileName()), plan.split(), docs.size(),
        judged.size(), parent.version());
    listener.step(dataRead);

    QuerySplit querySplit = QuerySplit.of(judged, plan.heldOut().fraction(), seed, plan.heldOut().kind());
    List<JudgedQuery> heldOutQueries = querySplit.heldOut();
    List<JudgedQuery> trainQueries = new ArrayList<>(plan.judgedTraining() ? querySplit.train() : List.of());
    // A pseudo-query must not present a held-out positive as an answer either.
    List<JudgedQuery> pseudo = plan.pseudoQueries().draw(data, seed, querySplit.heldOutPositives());
    List<UnjudgedQuery> unjudged = new ArrayList<>();
    switch (plan.pseudoQueries().positive()) {
      case OWN -> trainQueries.addAll(pseudo);
      case TEACHER -> pseudo.forEach(q -> {
        Set<String> excluded = new HashSet<>(querySplit.heldOutPositives());
        excluded.addAll(q.positives());
        unjudged.add(new UnjudgedQuery(q.id(), q.text(), excluded));
      });
    }
    if (trainQueries.isEmpty() && unjudged.isEmpty()) {
      throw new Refused(NOTHING_TO_TRAIN);
    }
    var queries = new DistillReport.QueriesDrawn(querySplit.train().size(), plan.judgedTraining(),
        heldOutQueries.size(), plan.heldOut().kind(), pseudo.size(), !unjudged.isEmpty());
    listener.step(queries);

    Sets sets = trainingSets(parent, plan, docs, texts, textOf, trainQueries, unjudged, heldOutQueries, listener);
    double[] means = sets.train().meanTeacherScores();
    var examples = new DistillReport.ExamplesBuilt(sets.train().size(), sets.heldOut().size(), means[0], means[1]);
    listener.step(examples);

    HeadsSpec spec = HeadsSpec.of(parent.manifest().dimension(),
        parent.manifest().pooling().heads() != null ? parent.manifest().pooling().heads()
            : ModelBundle.VERSION_ZERO_HEADS, plan.iemInput());
    TrainingWindow window = window(plan, parent.version(), judged.size(), heldOutQueries.size(), pseudo.size());
    Distillation.Similarity similarity = sets.simTrain() == null ? null : new Distillation.Similarity(sets.simTrain(),
        sets.simHeldOut(), plan.trainer().withEpochs(plan.symmetric().epochs()), Map.of("source", "stsb", "split",
        "train", "minScore", SimilarityExamples.MIN_SCORE, "negatives", SIMILARITY_NEGATIVES));
    Distillation.Result result = Distillation.run(parent, new Distillation.Plan(plan.version(), spec, plan.trainer(),
        plan.loss(), sets.teacherId(), window, similarity, plan.iemInit(), plan.tuning()), sets.train(), sets.heldOut(),
        plan.out(), sets.rerank());
    return new DistillReport(dataRead, queries, sets.rerankBaseline(), sets.symmetricLists(), examples, window,
        plan.out(), result);
  }

  /** The examples built, the teacher that labelled them, and how epochs will be compared. */
  private record Sets(TrainingSet train, TrainingSet heldOut, TrainingSet simTrain, TrainingSet simHeldOut,
      String teacherId, RerankSelection rerank, DistillReport.RerankBaseline rerankBaseline,
      DistillReport.SymmetricLists symmetricLists) {}

  /**
   * Mines, labels and tokenises the training and held-out lists (and the symmetric stage's), over the parent's
   * embedder and index, the token-state caches and the teacher, all closed before training starts.
   */
  private Sets trainingSets(ModelBundle parent, DistillPlan plan, List<EvalPassage> docs, List<String> texts,
      Map<String, String> textOf, List<JudgedQuery> trainQueries, List<UnjudgedQuery> unjudged,
      List<JudgedQuery> heldOutQueries, Listener listener) {
    int tuneLayers = plan.tuning() == null ? 0 : plan.tuning().layers();
    DistillPlan.Mining mining = plan.mining();
    TrainingSet train;
    TrainingSet heldOut;
    TrainingSet simTrain = null;
    TrainingSet simHeldOut = null;
    String teacherId;
    RerankSelection rerank = null;
    DistillReport.RerankBaseline rerankBaseline = null;
    DistillReport.SymmetricLists symmetricLists = null;
    Path states = env.caches().tokenStates();
    try (Embedder embedder = parent.embedder(env.embedder());
        TokenStateCache tokenStates = TokenStateCache.open(states, embedder.info());
        PartialBackbone frozenLayers = tuneLayers == 0 ? null : PartialBackbone.belowTop(parent.backbone(),
            parent.backboneSha256(), embedder.info().maxTokens(), tuneLayers, plan.tuning().heads(),
            embedder.config().batchSize());
        TokenStateCache frozenStates = frozenLayers == null ? null : TokenStateCache.open(states,
            frozenLayers.backboneSha256(), frozenLayers.maxTokens(), frozenLayers.dimension())) {
      // Training reads the states the trained part starts from: the backbone's last ones, or those under the
      // tuned layers.
      TokenStateSource trainingStates = frozenLayers == null ? TokenStateSource.of(embedder) : frozenLayers;
      float[][] corpus;
      try (VectorCache cache = VectorCache.open(env.caches().vectors(), "bundle-" + parent.checksum().substring(0, 16),
          embedder.info().dimension())) {
        corpus = CorpusVectors.of(texts, embedder, tokenStates, cache, "corpus (parent " + parent.version() + ")");
      }
      try (HnswDenseRetriever index = HnswDenseRetriever.build("parent index", embedder, docs, corpus, env.hnswM(),
              env.hnswBeamWidth());
          Bm25Retriever bm25 = new Bm25Retriever(docs);
          Teacher teacher = env.teacher().open(texts);
          LabelStore labels = LabelStore.open(env.caches().labels().resolve(labelSetup(parent.version(),
              parent.checksum(), teacher.id(), texts, mining, env.hnswM(), env.hnswBeamWidth()) + ".jsonl"))) {
        teacherId = teacher.id();
        TrainingSetBuilder builder = new TrainingSetBuilder(new NegativeMiner(index, bm25, mining.k(),
            mining.fromIndex(), mining.indexDepth()),
            teacher, teacher instanceof FeatureTeacher f ? f : null, frozenStates == null ? tokenStates : frozenStates,
            trainingStates, textOf, labels);
        train = builder.build(trainQueries, "train");
        if (!unjudged.isEmpty()) {
          train = train.concat(builder.buildUnjudged(unjudged, "pseudo-queries"));
        }
        if (!plan.trainer().trainPma() && plan.tuning() == null && !heldOutQueries.isEmpty()) {
          // The PMA stays the parent's, so the held-out queries' top 100 can be re-ranked as eval will re-rank them.
          Map<String, float[]> vectorOf = new HashMap<>();
          for (int i = 0; i < docs.size(); i++) {
            vectorOf.put(docs.get(i).docId(), corpus[i]);
          }
          rerank = RerankSelection.of(heldOutQueries, index, vectorOf, RERANK_DEPTH, plan.iemInput());
          rerankBaseline = new DistillReport.RerankBaseline(RERANK_DEPTH, RerankSelection.K, rerank.hnswNdcg());
          listener.step(rerankBaseline);
        }
        heldOut = builder.build(heldOutQueries, "held-out");
      } catch (IOException e) {
        throw new UncheckedIOException("closing the parent's index", e);
      }
      if (plan.symmetric() != null) {
        List<StsBenchmark.Pair> pairs = new ArrayList<>(StsBenchmark.load(StsBenchmark.file(plan.symmetric().data()),
            StsBenchmark.Split.TRAIN));
        long seed = plan.trainer().seed();
        Collections.shuffle(pairs, new Random(seed));
        int cut = (int) Math.round(plan.heldOut().fraction() * pairs.size());
        simTrain = SimilarityExamples.build(pairs.subList(cut, pairs.size()), SIMILARITY_NEGATIVES, seed, tokenStates,
            embedder);
        simHeldOut = SimilarityExamples.build(pairs.subList(0, cut), SIMILARITY_NEGATIVES, seed + 1, tokenStates,
            embedder);
        symmetricLists = new DistillReport.SymmetricLists(simTrain.size(), simHeldOut.size());
        listener.step(symmetricLists);
      }
    }
    return new Sets(train, heldOut, simTrain, simHeldOut, teacherId, rerank, rerankBaseline, symmetricLists);
  }

  /** The manifest's {@code training.data}: what the bundle was trained on and held out of. */
  static TrainingWindow window(DistillPlan plan, String parentVersion, int judged, int heldOut, int pseudo) {
    DistillPlan.Mining mining = plan.mining();
    return new TrainingWindow(TrainingWindow.BEIR, BeirDataset.name(plan.beir()), plan.split(), judged,
        plan.judgedTraining(), heldOut, plan.heldOut().kind().name().toLowerCase(Locale.ROOT),
        new TrainingWindow.PseudoQueries(pseudo, plan.pseudoQueries().kind().description(),
            plan.pseudoQueries().positive().description()),
        new TrainingWindow.Negatives(mining.k(), mining.fromIndex(), mining.indexDepth(),
            "bundle " + parentVersion + " HNSW", "bm25"));
  }

  /**
   * Names a labelling set-up: what a labelled list depends on (the parent's index, the HNSW parameters, K and its
   * split, the teacher, the corpus texts). A list stored under one name is valid for every run with that name, so
   * the name must not change for the same set-up: label caches on disk are found by it.
   */
  static String labelSetup(String parentVersion, String parentChecksum, String teacherId, List<String> corpusTexts,
      DistillPlan.Mining mining, int hnswM, int hnswBeamWidth) {
    // The depth joins the name only when it is not the top: lists labelled before it existed stay valid.
    String k = mining.indexDepth() == mining.fromIndex() ? Integer.toString(mining.fromIndex())
        : mining.fromIndex() + "@" + mining.indexDepth();
    String setup = String.join("\0", parentChecksum, teacherId, Integer.toString(mining.k()), k,
        Integer.toString(hnswM), Integer.toString(hnswBeamWidth), String.join("\0", corpusTexts));
    return "parent-" + parentVersion + "-" + TextHash.sha256(setup).substring(0, 16);
  }
}
