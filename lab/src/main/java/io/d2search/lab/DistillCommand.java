package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.app.Settings;
import io.d2search.ingest.CorpusDocument;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import io.d2search.distill.CorpusVectors;
import io.d2search.distill.Distillation;
import io.d2search.distill.HeadsSpec;
import io.d2search.distill.IemInit;
import io.d2search.distill.JudgedQuery;
import io.d2search.distill.LabelStore;
import io.d2search.distill.LossConfig;
import io.d2search.distill.NegativeMiner;
import io.d2search.distill.QuerySplit;
import io.d2search.distill.RerankSelection;
import io.d2search.distill.SimilarityExamples;
import io.d2search.distill.PartialBackbone;
import io.d2search.distill.TokenStateCache;
import io.d2search.distill.TokenStateSource;
import io.d2search.distill.TrainerConfig;
import io.d2search.distill.TrainingSet;
import io.d2search.distill.TrainingSetBuilder;
import io.d2search.distill.TuningMemory;
import io.d2search.distill.UnjudgedQuery;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.data.BeirDataset;
import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.data.PassageVectors;
import io.d2search.data.StsBenchmark;
import io.d2search.data.VectorCache;
import io.d2search.rank.IemHead;
import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Predicate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code distill}: trains a new student bundle from judged BEIR data. Every query with a relevant document becomes
 * training examples (query, positive, K hard negatives mined from the parent's index and BM25), labelled by the
 * teacher; the heads train on cached backbone token states; a held-out slice of the queries stops training early
 * and is measured; the bundle is written with its manifest.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
    description = "Distil the teacher into a new student bundle (PMA + IEM heads) from judged BEIR data.")
final class DistillCommand implements Callable<Integer> {
  /** Random negatives per sentence-pair list of the symmetric stage. */
  private static final int SIMILARITY_NEGATIVES = 3;
  /** Candidates the held-out re-rank selection re-ranks per query: the query service's and eval's default depth. */
  private static final int RERANK_DEPTH = 100;

  @Mixin ConfigOptions config;

  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
  Path beir;

  @Option(names = "--split", defaultValue = "train", description = "Qrels split to train on (default: ${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "The new bundle's directory; its name is the version (e.g. .d2search/bundles/1). Must not exist.")
  Path out;

  @Option(names = "--parent", paramLabel = "VERSION",
      description = "Bundle to start from and mine negatives with (default: setting model.version).")
  String parent;

  @Option(names = "--negatives", defaultValue = "15", description = "Hard negatives per query, K (default: ${DEFAULT-VALUE}).")
  int negatives;

  @Option(names = "--dense-negatives", defaultValue = "12",
      description = "How many of the K come from the parent's HNSW index; the rest from BM25 (default: ${DEFAULT-VALUE}).")
  int denseNegatives;

  @Option(names = "--negative-depth", paramLabel = "N", defaultValue = "100",
      description = "Draw the index negatives across the parent's top N (one per equal stratum of ranks, seeded by "
          + "the query), the ranks the IEM re-ranks; N = --dense-negatives takes the top ones (default: "
          + "${DEFAULT-VALUE}).")
  int negativeDepth;

  @Option(names = "--held-out", defaultValue = "0.1",
      description = "Fraction of the queries held out for early stopping and the bundle's metrics (default: ${DEFAULT-VALUE}).")
  double heldOutFraction;

  @Option(names = "--held-out-kind", defaultValue = "UNSEEN", paramLabel = "unseen|random",
      converter = HeldOutKindConverter.class,
      description = "unseen: hold out only queries whose positives no other query has, so early stopping measures "
          + "ranking documents never seen as answers (what eval's unseen subset measures); random: any queries "
          + "(default: unseen).")
  QuerySplit.Kind heldOutKind;

  static final class HeldOutKindConverter implements picocli.CommandLine.ITypeConverter<QuerySplit.Kind> {
    @Override
    public QuerySplit.Kind convert(String value) {
      return QuerySplit.Kind.valueOf(value.strip().toUpperCase(Locale.ROOT));
    }
  }

  @Option(names = "--pseudo-queries", defaultValue = "0",
      description = "Also train on this many pseudo-queries: titles of randomly drawn corpus documents, each with its "
          + "own document as the positive, labelled by the teacher like the judged ones (default: ${DEFAULT-VALUE}). "
          + "They are not judgements: eval's unseen subset is derived from the judged split only.")
  int pseudoQueries;

  @Option(names = "--pseudo-query-kind", defaultValue = "title", paramLabel = "title|sentence",
      description = "What a pseudo-query is: the document's title, or the last sentence of its text of 8 to 40 words "
          + "(an abstract's conclusion reads like a claim) (default: ${DEFAULT-VALUE}).")
  String pseudoQueryKind;

  @Option(names = "--pseudo-positive", defaultValue = "own", paramLabel = "own|teacher",
      description = "A pseudo-query's positive: own (the document it was taken from) or teacher (that document is "
          + "left out of its list, K + 1 candidates are mined as for a judged query, and the one the teacher scores "
          + "highest is the positive: a claim's evidence is another paper, not the one stating it) (default: "
          + "${DEFAULT-VALUE}).")
  String pseudoPositive;

  @Option(names = "--judged-training", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train on the judged queries that are not held out; --no-judged-training trains on the "
          + "pseudo-queries alone and uses the judged queries only to hold out, so no judgement is ever a training "
          + "answer (default: ${DEFAULT-VALUE}).")
  boolean judgedTraining;

  @Option(names = "--symmetric", paramLabel = "DIR",
      description = "Then train the IEM's symmetric branch (PMA and shared IEM layers frozen) on STS-B train from this "
          + "data directory (stsb/stsbenchmark.tsv.gz), human grades as the teacher.")
  Path symmetric;

  @Option(names = "--symmetric-epochs", defaultValue = "4",
      description = "Most epochs of the symmetric stage (default: ${DEFAULT-VALUE}).")
  int symmetricEpochs;

  @Option(names = "--iem-input", defaultValue = "interaction-only",
      description = "IEM input: concat ([q, p]), interaction ([q, p, q*p, |q-p|]) or interaction-only ([q*p, |q-p|]: "
          + "no block reads p alone, so the IEM cannot learn a per-document prior) (default: ${DEFAULT-VALUE}).")
  String iemInput;

  @Option(names = "--iem-init", paramLabel = "cosine|random",
      description = "How a fresh IEM starts: cosine (its logit is 20·q·p until training adds to it, so an untrained "
          + "re-rank is the HNSW order; interaction inputs only) or random (PyTorch's default). Default: cosine for the "
          + "interaction inputs, random for concat. Ignored when the parent bundle has an IEM of the same shape.")
  String iemInit;

  @Option(names = "--loss", defaultValue = "d2llm", description = "d2llm or hybrid (default: ${DEFAULT-VALUE}).")
  String loss;

  @Option(names = "--loss-weights", paramLabel = "IN_BATCH,ALPHA,BETA,GAMMA,ETA",
      description = "Override the d2llm loss weights: in-batch InfoNCE, contrastive imitation, rank imitation, BPR, "
          + "feature imitation (default: D2LLM's 1,1,1,0.01,0.001). 0,0,1,0.01,0.001 learns from the teacher's "
          + "scores alone, never from which document was judged relevant.")
  String lossWeights;

  @Option(names = "--train-pma", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train the PMA too (a FULL release: the corpus must be re-embedded); --no-train-pma trains only "
          + "the IEM (default: ${DEFAULT-VALUE}).")
  boolean trainPma;

  @Option(names = "--train-iem", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train the IEM too; --no-train-iem trains only the PMA, scored through the IEM as it starts (with "
          + "--iem-init cosine: 20·cosine, so the losses shape the vectors HNSW searches) (default: ${DEFAULT-VALUE}).")
  boolean trainIem;

  @Option(names = "--tune-layers", paramLabel = "N", defaultValue = "0",
      description = "Fine-tune the backbone's top N encoder layers with the heads (the layers below stay frozen, "
          + "their output cached); the bundle then carries its own ONNX graph. 0 keeps the backbone frozen "
          + "(default: ${DEFAULT-VALUE}).")
  int tuneLayers;

  @Option(names = "--memory-check", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "With --tune-layers, refuse a run whose estimated peak memory (activations at the backbone's "
          + "longest sequences) exceeds this machine's (default: ${DEFAULT-VALUE}).")
  boolean memoryCheck;

  @Option(names = "--backbone-learning-rate", paramLabel = "RATE", defaultValue = "3e-5",
      description = "Peak AdamW rate of the tuned backbone layers (default: ${DEFAULT-VALUE}).")
  double backboneLearningRate;

  @Option(names = "--backbone-heads", paramLabel = "H", defaultValue = "12",
      description = "Attention heads of the backbone's layers, for --tune-layers (default: ${DEFAULT-VALUE}, as in "
          + "all-MiniLM-L6-v2, bge-small and e5-small).")
  int backboneHeads;

  @Option(names = "--epochs", defaultValue = "10", description = "Most epochs (default: ${DEFAULT-VALUE}).")
  int epochs;

  @Option(names = "--batch-size", defaultValue = "32", description = "Queries per step (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--learning-rate", defaultValue = "1e-3", description = "Peak AdamW rate (default: ${DEFAULT-VALUE}).")
  double learningRate;

  @Option(names = "--seed", defaultValue = "0", description = "Seeds the held-out draw, initialisation and shuffling.")
  long seed;

  @Mixin CacheOptions caches;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Settings settings = config.settings();
    ModelBundle parentBundle = Components.bundle(settings, parent != null ? parent : settings.string("model.version"));
    String version = out.getFileName().toString();
    ModelBundle.requireWritable(out); // before the hour of work, not after
    if (negativeDepth < denseNegatives) {
      throw badArgument("--negative-depth " + negativeDepth + " is less than --dense-negatives " + denseNegatives);
    }
    IemHead.Input input = IemHead.Input.fromId(iemInput);
    IemInit init = iemInit == null ? IemInit.defaultFor(input) : IemInit.fromId(iemInit);
    if (!init.allows(input)) {
      throw badArgument("--iem-init cosine needs --iem-input interaction or interaction-only (concat cannot form q·p "
          + "in one layer)");
    }
    if (tuneLayers > 0 && memoryCheck) {
      TuningMemory memory = new TuningMemory(tuneLayers, parentBundle.manifest().dimension(), backboneHeads,
          parentBundle.manifest().backbone().maxTokens(), batchSize, negatives);
      String refusal = memory.refusal(Runtime.getRuntime().maxMemory(), physicalMemory());
      if (refusal != null) {
        throw badArgument(refusal);
      }
    }
    BeirDataset data = BeirDataset.load(beir, split);
    List<EvalPassage> docs = EvalPassage.wholeDocs(data);
    List<String> texts = EvalPassage.texts(docs);
    Map<String, String> textOf = new HashMap<>();
    docs.forEach(d -> textOf.put(d.docId(), d.embedText()));
    List<JudgedQuery> judged = judgedQueries(data);
    System.out.printf(Locale.ROOT, "%s (%s split): %d documents, %d queries with a positive; parent bundle %s%n",
        beir.getFileName(), split, docs.size(), judged.size(), parentBundle.version());

    QuerySplit querySplit = QuerySplit.of(judged, heldOutFraction, seed, heldOutKind);
    List<JudgedQuery> heldOutQueries = querySplit.heldOut();
    List<JudgedQuery> trainQueries = new ArrayList<>(judgedTraining ? querySplit.train() : List.of());
    // A title must not present a held-out positive as an answer either.
    List<JudgedQuery> pseudo = switch (pseudoQueryKind) {
      case "title" -> pseudoQueries(data, pseudoQueries, seed, querySplit.heldOutPositives(), "title",
          d -> d.title() != null && d.title().strip().length() >= 8 && !d.text().isBlank(), d -> d.title().strip());
      case "sentence" -> pseudoQueries(data, pseudoQueries, seed, querySplit.heldOutPositives(), "sentence",
          d -> true, d -> lastSentence(d.text(), 8, 40));
      default -> throw badArgument("--pseudo-query-kind must be title or sentence: " + pseudoQueryKind);
    };
    List<UnjudgedQuery> unjudged = new ArrayList<>();
    switch (pseudoPositive) {
      case "own" -> trainQueries.addAll(pseudo);
      case "teacher" -> pseudo.forEach(q -> {
        Set<String> excluded = new HashSet<>(querySplit.heldOutPositives());
        excluded.addAll(q.positives());
        unjudged.add(new UnjudgedQuery(q.id(), q.text(), excluded));
      });
      default -> throw badArgument("--pseudo-positive must be own or teacher: " + pseudoPositive);
    }
    if (trainQueries.isEmpty() && unjudged.isEmpty()) {
      throw badArgument("nothing to train on: --no-judged-training needs --pseudo-queries");
    }
    System.out.printf(Locale.ROOT, "%d training queries%s, %d held out (%s), %d pseudo-queries%s%n",
        querySplit.train().size(), judgedTraining ? "" : " (not used: --no-judged-training)", heldOutQueries.size(),
        heldOutKind.name().toLowerCase(Locale.ROOT), pseudo.size(),
        unjudged.isEmpty() ? "" : " (positives picked by the teacher)");

    CacheOptions.Dirs cacheDirs = caches.dirs(settings);
    Path vectors = cacheDirs.vectors();
    Path states = cacheDirs.tokenStates();
    Path teacherCache = TeacherFactory.cacheDir(settings);
    TrainingSet train;
    TrainingSet heldOut;
    TrainingSet simTrain = null;
    TrainingSet simHeldOut = null;
    String teacherId;
    RerankSelection rerank = null;
    if (tuneLayers > 0 && symmetric != null) {
      throw new IllegalArgumentException("--symmetric trains on the backbone's last states; it cannot follow "
          + "--tune-layers yet");
    }
    try (Embedder embedder = parentBundle.embedder(Components.embedder(settings));
        TokenStateCache tokenStates = TokenStateCache.open(states, embedder.info());
        PartialBackbone frozenLayers = tuneLayers == 0 ? null : PartialBackbone.belowTop(parentBundle.backbone(),
            parentBundle.backboneSha256(), embedder.info().maxTokens(), tuneLayers, backboneHeads,
            embedder.config().batchSize());
        TokenStateCache frozenStates = frozenLayers == null ? null : TokenStateCache.open(states,
            frozenLayers.backboneSha256(), frozenLayers.maxTokens(), frozenLayers.dimension())) {
      // Training reads the states the trained part starts from: the backbone's last ones, or those under the
      // tuned layers.
      TokenStateSource trainingStates = frozenLayers == null ? TokenStateSource.of(embedder) : frozenLayers;
      float[][] corpus;
      try (VectorCache cache = VectorCache.open(vectors, "bundle-" + parentBundle.checksum().substring(0, 16),
          embedder.info().dimension())) {
        corpus = CorpusVectors.of(texts, embedder, tokenStates, cache, "corpus (parent " + parentBundle.version() + ")");
      }
      try (HnswDenseRetriever index = HnswDenseRetriever.build("parent index", embedder, docs, corpus,
              settings.integer("index.hnsw.m"), settings.integer("index.hnsw.beam-width"));
          Bm25Retriever bm25 = new Bm25Retriever(docs);
          Teacher teacher = TeacherFactory.forDistill(settings, texts, teacherCache);
          LabelStore labels = LabelStore.open(vectors.resolveSibling("labels").resolve(
              labelSetup(parentBundle, teacher.id(), texts, settings) + ".jsonl"))) {
        teacherId = teacher.id();
        TrainingSetBuilder builder = new TrainingSetBuilder(new NegativeMiner(index, bm25, negatives, denseNegatives,
            negativeDepth),
            teacher, teacher instanceof FeatureTeacher f ? f : null, frozenStates == null ? tokenStates : frozenStates,
            trainingStates, textOf, labels);
        train = builder.build(trainQueries, "train");
        if (!unjudged.isEmpty()) {
          train = train.concat(builder.buildUnjudged(unjudged, "pseudo-queries"));
        }
        if (!trainPma && tuneLayers == 0 && !heldOutQueries.isEmpty()) {
          // The PMA stays the parent's, so the held-out queries' top 100 can be re-ranked as eval will re-rank them.
          Map<String, float[]> vectorOf = new HashMap<>();
          for (int i = 0; i < docs.size(); i++) {
            vectorOf.put(docs.get(i).docId(), corpus[i]);
          }
          rerank = RerankSelection.of(heldOutQueries, index, vectorOf, RERANK_DEPTH, input);
          System.out.printf(Locale.ROOT, "epochs compared by the held-out re-rank of the parent's top %d (nDCG@%d "
              + "in HNSW order: %.4f)%n", RERANK_DEPTH, RerankSelection.K, rerank.hnswNdcg());
        }
        heldOut = builder.build(heldOutQueries, "held-out");
      }
      if (symmetric != null) {
        List<StsBenchmark.Pair> pairs = new ArrayList<>(StsBenchmark.load(StsBenchmark.file(symmetric),
            StsBenchmark.Split.TRAIN));
        Collections.shuffle(pairs, new Random(seed));
        int cut = (int) Math.round(heldOutFraction * pairs.size());
        simTrain = SimilarityExamples.build(pairs.subList(cut, pairs.size()), SIMILARITY_NEGATIVES, seed, tokenStates,
            embedder);
        simHeldOut = SimilarityExamples.build(pairs.subList(0, cut), SIMILARITY_NEGATIVES, seed + 1, tokenStates,
            embedder);
        System.out.printf(Locale.ROOT, "symmetric stage: %d STS-B train lists, %d held out%n", simTrain.size(),
            simHeldOut.size());
      }
    }
    double[] means = train.meanTeacherScores();
    System.out.printf(Locale.ROOT, "%d training examples, %d held out; mean teacher score: positives %.3f, hard "
        + "negatives %.3f%n", train.size(), heldOut.size(), means[0], means[1]);

    HeadsSpec spec = HeadsSpec.of(parentBundle.manifest().dimension(),
        parentBundle.manifest().pooling().heads() != null ? parentBundle.manifest().pooling().heads()
            : ModelBundle.VERSION_ZERO_HEADS, input);
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(epochs).withBatchSize(batchSize)
        .withLearningRate(learningRate).withSeed(seed).withTrainPma(trainPma).withTrainIem(trainIem)
        .withBackboneLearningRate(backboneLearningRate)
        .withProgress(System.console() != null ? TrainerConfig.Progress.CONSOLE : TrainerConfig.Progress.LOG);
    LossConfig lossConfig = switch (loss.toLowerCase(Locale.ROOT)) {
      case "d2llm" -> LossConfig.d2llm();
      case "hybrid" -> LossConfig.hybrid();
      default -> throw new IllegalArgumentException("--loss must be d2llm or hybrid: " + loss);
    };
    if (lossWeights != null) {
      String[] w = lossWeights.split(",");
      if (w.length != 5) {
        throw new IllegalArgumentException("--loss-weights needs 5 numbers: " + lossWeights);
      }
      lossConfig = lossConfig.withInBatchWeight(Double.parseDouble(w[0].strip())).withWeights(
          Double.parseDouble(w[1].strip()), Double.parseDouble(w[2].strip()), Double.parseDouble(w[3].strip()),
          Double.parseDouble(w[4].strip()));
    }
    TrainingWindow window = new TrainingWindow(TrainingWindow.BEIR, BeirDataset.name(beir), split, judged.size(), judgedTraining,
        heldOutQueries.size(), heldOutKind.name().toLowerCase(Locale.ROOT), new TrainingWindow.PseudoQueries(
            pseudo.size(), "title".equals(pseudoQueryKind) ? "document title" : "last sentence of 8-40 words",
            "own".equals(pseudoPositive) ? "its document" : "the teacher's best of K + 1 mined, its document left out"),
        new TrainingWindow.Negatives(negatives, denseNegatives, negativeDepth, "bundle " + parentBundle.version()
            + " HNSW", "bm25"));
    Distillation.Similarity similarity = simTrain == null ? null : new Distillation.Similarity(simTrain, simHeldOut,
        trainer.withEpochs(symmetricEpochs), Map.of("source", "stsb", "split", "train", "minScore",
        SimilarityExamples.MIN_SCORE, "negatives", SIMILARITY_NEGATIVES));
    Distillation.Result result = Distillation.run(parentBundle,
        new Distillation.Plan(version, spec, trainer, lossConfig, teacherId, window, similarity, init,
            tuneLayers == 0 ? null : new Distillation.BackboneTuning(tuneLayers, backboneHeads)), train, heldOut, out,
        rerank);
    System.out.printf(Locale.ROOT, "bundle %s written to %s (best epoch %d of %d)%n", result.bundle().version(),
        out.toAbsolutePath(), result.report().bestEpoch(), result.report().epochs().size());
    result.metrics().forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-28s %s%n", k, v));
    return 0;
  }

  /** An argument error, printed with this command's usage on the command line's error stream. */
  private ParameterException badArgument(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /** This machine's physical memory (the container's limit where there is one). */
  static long physicalMemory() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getTotalMemorySize();
  }

  /**
   * Names a labelling set-up: what a labelled list depends on (the parent's index, the HNSW parameters, K and its
   * split, the teacher, the corpus texts). A list stored under one name is valid for every run with that name.
   */
  String labelSetup(ModelBundle parentBundle, String teacherId, List<String> corpusTexts, Settings settings) {
    // The depth joins the name only when it is not the top: lists labelled before it existed stay valid.
    String k = negativeDepth == denseNegatives ? Integer.toString(denseNegatives) : denseNegatives + "@" + negativeDepth;
    String setup = String.join("\0", parentBundle.checksum(), teacherId, Integer.toString(negatives), k,
        settings.string("index.hnsw.m"), settings.string("index.hnsw.beam-width"), String.join("\0", corpusTexts));
    return "parent-" + parentBundle.version() + "-" + TextHash.sha256(setup).substring(0, 16);
  }

  /** Queries of the split with at least one relevant (relevance > 0) document, in the file's order. */
  static List<JudgedQuery> judgedQueries(BeirDataset data) {
    List<JudgedQuery> out = new ArrayList<>();
    data.qrels().forEach((qid, judgements) -> {
      List<String> positives = judgements.entrySet().stream().filter(e -> e.getValue() > 0).map(Map.Entry::getKey)
          .toList();
      String text = data.queries().get(qid);
      if (text != null && !positives.isEmpty()) {
        out.add(new JudgedQuery(qid, text, positives));
      }
    });
    return out;
  }

  /** The last sentence (JDK sentence boundaries, English) with a word count in [min, max], or null. */
  static String lastSentence(String text, int min, int max) {
    java.text.BreakIterator it = java.text.BreakIterator.getSentenceInstance(Locale.ENGLISH);
    it.setText(text);
    String last = null;
    for (int start = it.first(), end = it.next(); end != java.text.BreakIterator.DONE; start = end, end = it.next()) {
      String sentence = text.substring(start, end).strip();
      int words = sentence.isEmpty() ? 0 : sentence.split("\\s+").length;
      if (words >= min && words <= max) {
        last = sentence;
      }
    }
    return last;
  }

  /**
   * Pseudo-queries of n eligible documents drawn at random (seeded), each a query whose positive is its own document;
   * documents for which {@code queryOf} gives null are skipped.
   *
   * @param kind names the query ids ({@code kind:docId})
   */
  static List<JudgedQuery> pseudoQueries(BeirDataset data, int n, long seed, Set<String> excluded, String kind,
      Predicate<CorpusDocument> eligible, Function<CorpusDocument, String> queryOf) {
    List<CorpusDocument> docs = new ArrayList<>(data.corpus().values().stream().filter(eligible)
        .filter(d -> !excluded.contains(d.id())).toList());
    Collections.shuffle(docs, new Random(seed ^ 0x9E3779B97F4A7C15L));
    List<JudgedQuery> out = new ArrayList<>();
    for (CorpusDocument d : docs) {
      if (out.size() == n) {
        break;
      }
      String query = queryOf.apply(d);
      if (query != null) {
        out.add(new JudgedQuery(kind + ":" + d.id(), query, List.of(d.id())));
      }
    }
    return out;
  }

}
