package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.config.Settings;
import io.d2search.bundle.ModelBundle;
import io.d2search.distill.CorpusVectors;
import io.d2search.distill.TokenStateCache;
import io.d2search.embed.Embedder;
import io.d2search.data.BeirDataset;
import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.EvalRow;
import io.d2search.eval.Evaluation;
import io.d2search.eval.ExactDenseRetriever;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.eval.IemRerankRetriever;
import io.d2search.eval.PairScorer;
import io.d2search.eval.PairedBootstrap;
import io.d2search.data.PassageVectors;
import io.d2search.eval.RerankRetriever;
import io.d2search.eval.Retriever;
import io.d2search.data.SymmetricData;
import io.d2search.eval.SymmetricEvaluation;
import io.d2search.eval.SymmetricRow;
import io.d2search.data.VectorCache;
import io.d2search.ingest.Chunker;
import io.d2search.teach.EnsembleTeacher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code eval}: retrieval quality on BEIR-format data: BM25, the bi-encoder, students (HNSW alone and re-ranked by
 * their IEM) and the teacher re-ranking the baseline's top 100, in one run; every row over all judged queries and,
 * when a student was trained on judged data of the same dataset, over the queries unseen in training.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate BM25, the bi-encoder, student bundles and the teacher on BEIR-format data: nDCG@10, "
        + "Recall@100, MRR@10, ms/query, gap closed.")
final class EvalCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
  Path beir;

  @Option(names = "--split", defaultValue = "test", description = "Qrels split to evaluate (default: ${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--held-out",
      description = "Evaluate on the held-out queries distill drew from --split for the --student bundles (drawn again "
          + "from their manifest; they must share one slice) instead of the whole split: compares bundles on queries "
          + "none of them trained on, without the test split. Needs --split to be their training split.")
  boolean heldOut;

  @Option(names = "--whole-docs",
      description = "Embed each document whole (title + text, truncated at model.max-tokens) as BEIR does, "
          + "instead of chunking it into passages like the indexer.")
  boolean wholeDocs;

  @Mixin CacheOptions caches;

  @Option(names = "--no-cache", description = "Embed everything again; neither read nor write the vector cache.")
  boolean noCache;

  @Option(names = "--student", paramLabel = "VERSION",
      description = "Also evaluate the student of this model bundle (a version under setting model.bundles-dir, or "
          + "a bundle directory); repeatable. A bundle with an IEM adds a row re-ranking its HNSW top "
          + "--rerank-depth. Version 0 (PMA in its mean-pooling initialisation) is created when missing.")
  List<String> students = new ArrayList<>();

  @Option(names = "--teacher",
      description = "Add the teacher's re-rank of the baseline's HNSW top --rerank-depth (baseline: student v0 when "
          + "given, else the bi-encoder), and the gap-closed column.")
  boolean teacher;

  @Option(names = "--rerank-depth", defaultValue = "100",
      description = "Documents re-ranked per query by the IEM and the teacher (default: ${DEFAULT-VALUE}).")
  int rerankDepth;

  @Option(names = "--teacher-cold-queries", defaultValue = "3",
      description = "With --teacher, also time this many queries of a teacher that encodes its candidates at query "
          + "time, as a cross-encoder teacher must (0: skip; default: ${DEFAULT-VALUE}).")
  int teacherColdQueries;

  @Option(names = "--symmetric", paramLabel = "DIR",
      description = "Also the symmetric tasks from this data directory (stsb/, snli/): STS-B test Spearman and SNLI "
          + "test entailment accuracy (threshold chosen on SNLI dev), for the bi-encoder's and each student's cosine "
          + "and each student IEM's symmetric branch.")
  Path symmetric;

  private final List<AutoCloseable> open = new ArrayList<>();
  private final List<SymmetricRow> symmetricRows = new ArrayList<>();
  private double coldTeacherMs = Double.NaN;
  private SymmetricData symmetricData;

  @Override
  public Integer call() throws Exception {
    try {
      return run();
    } finally {
      for (int i = open.size() - 1; i >= 0; i--) {
        open.get(i).close();
      }
    }
  }

  private int run() throws Exception {
    Settings settings = config.settings();
    BeirDataset data = BeirDataset.load(beir, split);
    List<ModelBundle> bundles = new ArrayList<>();
    for (String version : students) {
      bundles.add(Components.bundle(settings, version));
    }
    String queriesName = split + " split";
    if (heldOut) {
      HeldOutSlice slice = heldOutSlice(bundles, data);
      data = data.restrictedTo(slice.queryIds());
      queriesName = split + " split, held out by v" + slice.version() + " (" + slice.kind() + ")";
    }
    System.out.printf("%s (%s): %d documents, %d queries, %s%n", beir.getFileName(), queriesName,
        data.corpus().size(), data.queries().size(), wholeDocs ? "whole documents" : "chunked passages");
    CacheOptions.Dirs cacheDirs = caches.dirs(settings);
    List<Evaluation.Run> runs = new ArrayList<>();
    Embedder base = own(Embedder.create(Components.embedder(settings)));
    List<EvalPassage> passages = wholeDocs ? EvalPassage.wholeDocs(data)
        : EvalPassage.chunked(data, new Chunker(base.tokenizer(), Components.chunker(settings)));
    System.out.printf("%d passages%n", passages.size());
    try (Bm25Retriever bm25 = new Bm25Retriever(passages)) {
      runs.add(Evaluation.runPerQuery(bm25, data.queries(), data.qrels()));
    }
    if (symmetric != null) {
      symmetricData = SymmetricData.load(symmetric);
      symmetricRows.add(SymmetricEvaluation.run("bi-encoder (" + base.info().backboneId() + ", mean) cosine",
          PairScorer.cosine(base), symmetricData));
    }
    var info = base.info();
    HnswDenseRetriever baseline = dense("bi-encoder (" + info.backboneId() + ", mean)", base, passages, cacheDirs,
        info.backboneSha256().substring(0, 16) + "-" + info.maxTokens() + "-mean", data, settings, runs).hnsw();
    String baselineName = runs.get(runs.size() - 2).system();

    Set<String> unseen = null;
    String unseenFrom = null;
    for (ModelBundle bundle : bundles) {
      Embedder embedder = own(bundle.embedder(Components.embedder(settings)));
      String label = "student v" + bundle.version();
      Dense student = dense(label + " (" + embedder.info().pooling() + ")", embedder, passages, cacheDirs,
          "bundle-" + bundle.checksum().substring(0, 16), data, settings, runs);
      if (ModelBundle.VERSION_ZERO.equals(bundle.version())) {
        baseline = student.hnsw();
        baselineName = runs.get(runs.size() - 2).system();
      }
      if (symmetricData != null) {
        symmetricRows.add(SymmetricEvaluation.run(label + " cosine", PairScorer.cosine(embedder), symmetricData));
        if (bundle.iem().isPresent()) {
          symmetricRows.add(SymmetricEvaluation.run(label + " IEM (symmetric branch)",
              PairScorer.iemSymmetric(embedder, bundle.iem().get()), symmetricData));
        }
      }
      if (bundle.iem().isPresent()) {
        runs.add(Evaluation.runPerQuery(new IemRerankRetriever(label + " + IEM re-rank top-" + rerankDepth,
            student.hnsw(), bundle.iem().get(), rerankDepth, passages, student.vectors()), data.queries(), data.qrels()));
      }
      // A held-out slice is unseen (or random) by construction; the training qrels would contain it.
      String trainedOn = heldOut ? null : HeldOutSlice.trainedSplit(bundle.manifest().training(),
          BeirDataset.name(beir));
      if (unseen == null && trainedOn != null) {
        Path qrels = beir.resolve("qrels").resolve(trainedOn + ".tsv");
        if (Files.exists(qrels)) {
          unseen = data.unseenBy(BeirDataset.readQrels(qrels)).queries().keySet();
          unseenFrom = "v" + bundle.version() + "'s training qrels (" + trainedOn + ")";
        }
      }
    }

    String teacherName = null;
    if (teacher) {
      List<String> texts = EvalPassage.texts(passages);
      EnsembleTeacher ensemble = own(TeacherFactory.ensemble(settings, texts, TeacherFactory.cacheDir(settings)));
      teacherName = "teacher re-rank top-" + rerankDepth + " of " + baselineName;
      runs.add(Evaluation.runPerQuery(new RerankRetriever(teacherName, baseline, ensemble::score, rerankDepth,
          passages), data.queries(), data.qrels()));
      if (teacherColdQueries > 0) {
        coldTeacherMs = coldTeacherMillis(settings, texts, baseline, passages, data);
      }
    }

    System.out.println();
    String unit = wholeDocs ? "whole documents (title + text, " + settings.integer("model.max-tokens") + " tokens)"
        : "passages of " + settings.integer("chunk.max-tokens") + " tokens, documents scored by their best passage";
    System.out.printf("%s, %s, all %d queries, %s%n", beir.getFileName(), queriesName, data.queries().size(), unit);
    System.out.print(table(runs, null, baselineName, teacherName));
    if (unseen != null && unseen.isEmpty()) {
      System.out.printf("%nno %s query is unseen by %s (evaluating the training split itself?)%n", split, unseenFrom);
    } else if (unseen != null) {
      System.out.printf("%n%s, %s split, the %d queries unseen by %s: none of their relevant documents is a "
          + "training positive%n", beir.getFileName(), split, unseen.size(), unseenFrom);
      System.out.print(table(runs, unseen, baselineName, teacherName));
    }
    if (!symmetricRows.isEmpty()) {
      System.out.printf("%nsymmetric tasks: STS-B test (%d pairs, Spearman), SNLI test (%d pairs, entailment vs not, "
          + "threshold fitted on %d dev pairs)%n", symmetricData.stsTest().size(), symmetricData.snliTest().size(),
          symmetricData.snliDev().size());
      System.out.print(SymmetricEvaluation.table(symmetricRows));
    }
    if (!Double.isNaN(coldTeacherMs)) {
      System.out.printf(Locale.ROOT, "%nteacher re-ranking %d candidates with nothing precomputed (each query encodes "
          + "its candidates with both encoders, as a cross-encoder teacher must): %.0f ms/query over %d queries%n",
          rerankDepth, coldTeacherMs, teacherColdQueries);
      for (Evaluation.Run r : runs) {
        if (r.system().contains("IEM re-rank")) {
          System.out.printf(Locale.ROOT, "  %s: %.2f%% of it%n", r.system(), 100 * r.row().msPerQuery() / coldTeacherMs);
        }
      }
    }
    System.out.printf("%nbaseline = %s. Δ nDCG@10 vs baseline: row − baseline over the same queries, with its 95%% "
        + "paired bootstrap interval (%,d resamples of the queries); * where the interval excludes 0.%n", baselineName,
        PairedBootstrap.RESAMPLES);
    if (teacher) {
      System.out.println("gap closed = (row − baseline) / (teacher − baseline) in nDCG@10; teacher ms/query with "
          + "its passage vectors precomputed (its queries embedded by two 12-layer encoders at query time).");
    }
    return 0;
  }

  /** Mean time of the uncached teacher scoring the first stage's candidates of the first queries. */
  private double coldTeacherMillis(Settings settings, List<String> texts, Retriever firstStage,
      List<EvalPassage> passages, BeirDataset data) {
    Map<String, String> textOf = new java.util.HashMap<>();
    passages.forEach(p -> textOf.put(p.docId(), p.embedText()));
    try (EnsembleTeacher cold = TeacherFactory.uncached(settings, texts)) {
      List<String> queries = data.queries().values().stream().limit(teacherColdQueries).toList();
      cold.score("warm-up", List.of(texts.get(0)));
      long nanos = 0;
      for (int i = 0; i < queries.size(); i++) {
        String q = queries.get(i);
        List<String> candidates = firstStage.search(q, rerankDepth).stream().map(d -> textOf.get(d.docId())).toList();
        long start = System.nanoTime();
        cold.score(q, candidates);
        nanos += System.nanoTime() - start;
        System.out.printf(Locale.ROOT, "cold teacher: query %d/%d%n", i + 1, queries.size());
      }
      return nanos / 1e6 / Math.max(1, queries.size());
    }
  }

  private static String table(List<Evaluation.Run> runs, Set<String> subset, String baselineName,
      String teacherName) {
    List<EvalRow> rows = runs.stream().map(r -> subset == null ? r.row() : r.row(subset)).toList();
    int baseline = runs.stream().map(Evaluation.Run::system).toList().indexOf(baselineName);
    Map<String, Double> gap = new LinkedHashMap<>();
    if (teacherName != null) {
      double base = rows.get(baseline).ndcg10();
      double top = rows.stream().filter(r -> r.system().equals(teacherName)).findFirst().orElseThrow().ndcg10();
      rows.stream().filter(r -> r.system().startsWith("student"))
          .forEach(r -> gap.put(r.system(), Evaluation.gapClosed(r.ndcg10(), base, top)));
    }
    // Every other row against the baseline, query by query: is the difference more than noise?
    Map<String, PairedBootstrap.Interval> versus = new LinkedHashMap<>();
    runs.stream().filter(r -> r != runs.get(baseline))
        .forEach(r -> versus.put(r.system(), Evaluation.ndcgDifference(r, runs.get(baseline), subset)));
    return Evaluation.table(rows, gap, versus);
  }

  /** The one held-out slice of the students trained on this dataset's split; refuses none and several. */
  private HeldOutSlice heldOutSlice(List<ModelBundle> bundles, BeirDataset data) {
    String dataset = BeirDataset.name(beir);
    HeldOutSlice slice = null;
    for (ModelBundle bundle : bundles) {
      HeldOutSlice own = HeldOutSlice.of(bundle.version(), bundle.manifest().training(), dataset, split, data)
          .orElse(null);
      if (slice == null) {
        slice = own;
      } else if (own != null && !slice.queryIds().equals(own.queryIds())) {
        throw new IllegalArgumentException("--held-out: v" + slice.version() + " and v" + own.version() + " held out "
            + "different queries of " + dataset + "/" + split + "; evaluate them in separate runs");
      }
    }
    if (slice == null) {
      throw new IllegalArgumentException("--held-out: no --student was trained on judged queries of " + dataset + "/"
          + split + " (is --split its training split?)");
    }
    return slice;
  }

  /**
   * Corpus vectors of an embedder: from the vector cache, else pooled from the backbone's cached token states
   * (so students that differ only in their heads share one backbone pass), else embedded.
   */
  private float[][] vectors(Embedder embedder, List<EvalPassage> passages, CacheOptions.Dirs cacheDirs,
      String fingerprint) {
    List<String> texts = EvalPassage.texts(passages);
    try (VectorCache cache = noCache ? null
        : VectorCache.open(cacheDirs.vectors(), fingerprint, embedder.info().dimension())) {
      if (noCache) {
        return PassageVectors.embed(embedder, texts, null, "embed corpus");
      }
      try (TokenStateCache states = TokenStateCache.open(cacheDirs.tokenStates(), embedder.info())) {
        return CorpusVectors.of(texts, embedder, states, cache, "corpus vectors");
      }
    }
  }

  /** An embedder's HNSW retriever (open until the end of the run) and the corpus vectors it indexes. */
  private record Dense(HnswDenseRetriever hnsw, float[][] vectors) {}

  /** HNSW and exact runs of one embedder over the passages; the HNSW retriever stays open for re-rank rows. */
  private Dense dense(String label, Embedder embedder, List<EvalPassage> passages, CacheOptions.Dirs cacheDirs,
      String fingerprint, BeirDataset data, Settings settings, List<Evaluation.Run> runs) {
    System.out.printf("embedding %d passages with %s on %s%n", passages.size(), label, embedder.info().provider());
    float[][] vectors = vectors(embedder, passages, cacheDirs, fingerprint);
    HnswDenseRetriever hnsw = own(HnswDenseRetriever.build(label + " HNSW", embedder, passages, vectors,
        settings.integer("index.hnsw.m"), settings.integer("index.hnsw.beam-width")));
    runs.add(Evaluation.runPerQuery(hnsw, data.queries(), data.qrels()));
    Retriever exact = new ExactDenseRetriever(label + " exact", embedder, passages, vectors);
    runs.add(Evaluation.runPerQuery(exact, data.queries(), data.qrels()));
    return new Dense(hnsw, vectors);
  }

  private <T extends AutoCloseable> T own(T resource) {
    open.add(resource);
    return resource;
  }
}
