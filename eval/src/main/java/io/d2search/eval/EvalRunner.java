package io.d2search.eval;

import io.d2search.bundle.ModelBundle;
import io.d2search.data.BeirDataset;
import io.d2search.data.SymmetricData;
import io.d2search.embed.Embedder;
import io.d2search.eval.EvalReport.ColdTeacher;
import io.d2search.eval.EvalReport.HeldOut;
import io.d2search.eval.EvalReport.RetrievalRow;
import io.d2search.eval.EvalReport.SymmetricResult;
import io.d2search.eval.EvalReport.UnseenQueries;
import io.d2search.eval.EvalSystem.Dense;
import io.d2search.eval.EvalSystem.Search;
import io.d2search.index.Fusion;
import io.d2search.index.PassageRanker;
import io.d2search.index.RetrievalMode;
import io.d2search.ingest.Chunker;
import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Runs an {@link EvalPlan}: retrieval quality on BEIR-format data of BM25, the bi-encoder, students (HNSW alone,
 * exact, and re-ranked by their IEM as the query service does) and the teacher re-ranking the baseline's top
 * candidates, in one run; every row over all judged queries and, when a student was trained on judged data of the
 * same dataset, over the queries unseen in its training.
 *
 * <p>What lives outside the evaluation (where bundles are, how corpus vectors are cached, which teacher, what a
 * manifest says of its training) comes in as the small interfaces below, so this module depends on neither the
 * serving app nor the distiller. Progress lines go to the given stream as the run goes; the result is an
 * {@link EvalReport}.
 *
 * <p>The runner keeps no state between runs (a run uses the machine fully, so run one at a time). Everything a run
 * opens (embedders, HNSW indexes, teachers) is closed, in reverse order, before {@link #run} returns.
 */
public final class EvalRunner {

  /** Loads model bundles by version (or bundle directory). */
  @FunctionalInterface
  public interface Bundles {
    /** @throws RuntimeException if the bundle is missing or does not verify */
    ModelBundle bundle(String version);
  }

  /** A corpus' vectors under an embedder, from wherever the caller caches them. */
  @FunctionalInterface
  public interface VectorSource {
    /**
     * @param embedder the embedder whose vectors are wanted
     * @param texts the texts to embed, in order
     * @param fingerprint names the embedder's vectors in a cache (backbone and pooling, or bundle checksum)
     * @return one unit vector per text, in order
     */
    float[][] vectors(Embedder embedder, List<String> texts, String fingerprint);
  }

  /** A teacher scoring passages against a query, owning what it opened. */
  public interface TeacherScorer extends RerankRetriever.PairScorer, AutoCloseable {
    @Override
    void close();
  }

  /** The teacher, over one corpus. */
  public interface Teachers {
    /** The teacher with the corpus' passage vectors precomputed: what its row measures. */
    TeacherScorer precomputed(List<String> corpusTexts);

    /**
     * The same teacher with nothing precomputed or memoised: each call encodes its passages, as a cross-encoder
     * teacher must. For timing what re-ranking with the teacher itself costs.
     */
    TeacherScorer uncached(List<String> corpusTexts);
  }

  /** What a bundle's manifest says of its training data. */
  public interface TrainingWindows {
    /**
     * The split of {@code dataset} whose judged queries the bundle trained on; empty when it did not train on BEIR
     * judgements of that dataset.
     */
    Optional<String> trainedSplit(ModelBundle bundle, String dataset);

    /**
     * The queries distill held out of {@code dataset}'s {@code split} for the bundle, drawn again; empty when it did
     * not train on judged queries of that split.
     *
     * @param data the split's judged data
     * @throws IllegalArgumentException if the slice cannot be drawn again as it was
     */
    Optional<HeldOut> heldOut(ModelBundle bundle, String dataset, String split, BeirDataset data);
  }

  private final EvalSettings settings;
  private final Bundles bundles;
  private final VectorSource vectors;
  private final Teachers teachers;
  private final TrainingWindows training;
  private final PrintStream progress;

  /** @param progress where progress lines go as the run goes (e.g. {@code System.out}) */
  public EvalRunner(EvalSettings settings, Bundles bundles, VectorSource vectors, Teachers teachers,
      TrainingWindows training, PrintStream progress) {
    this.settings = Objects.requireNonNull(settings, "settings");
    this.bundles = Objects.requireNonNull(bundles, "bundles");
    this.vectors = Objects.requireNonNull(vectors, "vectors");
    this.teachers = Objects.requireNonNull(teachers, "teachers");
    this.training = Objects.requireNonNull(training, "training");
    this.progress = Objects.requireNonNull(progress, "progress");
  }

  /**
   * Evaluates the plan.
   *
   * @throws IllegalArgumentException if the dataset is not BEIR-formatted, or the plan asks for held-out queries
   *     that no student (or no one slice) defines
   * @throws IOException if closing what the run opened fails
   */
  public EvalReport run(EvalPlan plan) throws IOException {
    Objects.requireNonNull(plan, "plan");
    try (Resources open = new Resources()) {
      return run(plan, open);
    }
  }

  /** An embedder's HNSW retriever (open until the end of the run) and the corpus vectors it indexes. */
  private record Indexed(HnswDenseRetriever hnsw, float[][] vectors) {}

  private EvalReport run(EvalPlan plan, Resources open) {
    BeirDataset data = BeirDataset.load(plan.dataset(), plan.split());
    List<ModelBundle> students = new ArrayList<>();
    for (String version : plan.students()) {
      students.add(bundles.bundle(version));
    }
    String datasetName = BeirDataset.name(plan.dataset());
    String dirName = String.valueOf(plan.dataset().getFileName());
    Optional<HeldOut> heldOut = Optional.empty();
    if (plan.heldOut()) {
      HeldOut slice = heldOutSlice(students, data, datasetName, plan.split());
      data = data.restrictedTo(slice.queryIds());
      heldOut = Optional.of(slice);
    }
    EvalReport.QuerySet querySet = new EvalReport.QuerySet(plan.split(), heldOut, data.queries().size());
    boolean wholeDocs = plan.unit() == EvalPlan.Unit.WHOLE_DOCUMENTS;
    progress.printf("%s (%s): %d documents, %d queries, %s%n", dirName, querySet.description(), data.corpus().size(),
        data.queries().size(), wholeDocs ? "whole documents" : "chunked passages");
    List<RetrievalRow> rows = new ArrayList<>();
    Embedder base = open.add(Embedder.create(settings.embedder()));
    List<EvalPassage> passages = wholeDocs ? EvalPassage.wholeDocs(data)
        : EvalPassage.chunked(data, new Chunker(base.tokenizer(), settings.chunker()));
    progress.printf("%d passages%n", passages.size());
    SymmetricData symmetricData = plan.symmetric().map(SymmetricData::load).orElse(null);
    List<SymmetricResult> symmetricRows = new ArrayList<>();
    EvalSystem.BiEncoder biEncoder = new EvalSystem.BiEncoder(base.info().backboneId());
    if (symmetricData != null) {
      symmetricRows.add(symmetric(new SymmetricSystem.Cosine(biEncoder), PairScorer.cosine(base), symmetricData));
    }
    var info = base.info();
    HnswDenseRetriever baseline = dense(biEncoder, base, passages, info.backboneSha256().substring(0, 16) + "-"
        + info.maxTokens() + "-mean", data, rows, open).hnsw();
    Dense baselineSystem = new Dense(biEncoder, Search.HNSW);
    // BM25 ranks by text alone: one keyword row, through the served ranking code over the first index.
    rows.add(0, new RetrievalRow(new EvalSystem.Keyword(), Evaluation.runPerQuery(baseline.served(
        new EvalSystem.Keyword().label(), firstStage(null, plan), RetrievalMode.KEYWORD, false), data.queries(),
        data.qrels())));
    hybrid(biEncoder, baseline, data, rows, plan);

    Optional<UnseenQueries> unseen = Optional.empty();
    for (ModelBundle bundle : students) {
      Embedder embedder = open.add(bundle.embedder(settings.embedder()));
      EvalSystem.Student student = new EvalSystem.Student(bundle.version(), embedder.info().pooling());
      Indexed indexed = dense(student, embedder, passages, "bundle-" + bundle.checksum().substring(0, 16), data, rows,
          open);
      if (!settings.queryEmbedder().backbone().equals(settings.embedder().backbone())) {
        queryEncoderRows(student, bundle, embedder, passages, indexed.vectors(), data, rows, open);
      }
      if (ModelBundle.VERSION_ZERO.equals(bundle.version())) {
        baseline = indexed.hnsw();
        baselineSystem = new Dense(student, Search.HNSW);
      }
      Optional<IemHead> iem = bundle.iem();
      if (symmetricData != null) {
        symmetricRows.add(symmetric(new SymmetricSystem.Cosine(student), PairScorer.cosine(embedder), symmetricData));
        if (iem.isPresent()) {
          symmetricRows.add(symmetric(new SymmetricSystem.IemSymmetric(bundle.version()),
              PairScorer.iemSymmetric(embedder, iem.get()), symmetricData));
        }
      }
      hybrid(student, indexed.hnsw(), data, rows, plan);
      if (iem.isPresent()) {
        PassageRanker ranker = firstStage(new Reranker(iem.get()), plan);
        for (boolean hybrid : new boolean[] {false, true}) {
          EvalSystem.IemRerank system = new EvalSystem.IemRerank(bundle.version(), plan.rerankDepth(), hybrid);
          rows.add(new RetrievalRow(system, Evaluation.runPerQuery(indexed.hnsw().served(system.label(), ranker,
              hybrid ? RetrievalMode.HYBRID : RetrievalMode.VECTOR, true), data.queries(), data.qrels())));
        }
      }
      // A held-out slice is unseen (or random) by construction; the training qrels would contain it.
      Optional<String> trainedOn = plan.heldOut() ? Optional.empty() : training.trainedSplit(bundle, datasetName);
      if (unseen.isEmpty() && trainedOn.isPresent()) {
        Path qrels = plan.dataset().resolve("qrels").resolve(trainedOn.get() + ".tsv");
        if (Files.exists(qrels)) {
          unseen = Optional.of(new UnseenQueries(data.unseenBy(BeirDataset.readQrels(qrels)).queries().keySet(),
              bundle.version(), trainedOn.get()));
        }
      }
    }

    Optional<ColdTeacher> cold = Optional.empty();
    if (plan.teacher().isPresent()) {
      List<String> texts = EvalPassage.texts(passages);
      TeacherScorer teacher = open.add(teachers.precomputed(texts));
      EvalSystem.TeacherRerank system = new EvalSystem.TeacherRerank(plan.rerankDepth(), baselineSystem);
      rows.add(new RetrievalRow(system, Evaluation.runPerQuery(new RerankRetriever(system.label(), baseline, teacher,
          plan.rerankDepth(), passages), data.queries(), data.qrels())));
      int coldQueries = plan.teacher().get().coldQueries();
      if (coldQueries > 0) {
        cold = Optional.of(new ColdTeacher(coldTeacherMillis(texts, baseline, passages, data, coldQueries,
            plan.rerankDepth()), coldQueries, plan.rerankDepth()));
      }
    }

    int maxTokens = wholeDocs ? settings.embedder().maxTokens() : settings.chunker().maxTokens();
    EvalReport.Corpus corpus = new EvalReport.Corpus(dirName, data.corpus().size(), passages.size(), plan.unit(),
        maxTokens);
    Optional<EvalReport.SymmetricTasks> symmetric = Optional.ofNullable(symmetricData).map(s ->
        new EvalReport.SymmetricTasks(symmetricRows, s.stsTest().size(), s.snliTest().size(), s.snliDev().size()));
    return new EvalReport(corpus, querySet, rows, baselineSystem, unseen, symmetric, cold);
  }

  /**
   * The served ranking with the service's fusion and the plan's depth (re-ranked, and per retriever when fusing);
   * {@code reranker} may be null.
   */
  private PassageRanker firstStage(Reranker reranker, EvalPlan plan) {
    return new PassageRanker(settings.fusion(), reranker, plan.rerankDepth(), settings.rerankFirstStageWeight());
  }

  /**
   * The hybrid rows of one encoder's index: the service's fusion ({@code search.fusion*}), then the other method with
   * its default parameters, so that the choice between them is measured in every run.
   */
  private void hybrid(EvalSystem.Encoder encoder, HnswDenseRetriever index, BeirDataset data,
      List<RetrievalRow> rows, EvalPlan plan) {
    Fusion served = settings.fusion();
    Fusion.Method other = served.method() == Fusion.Method.RRF ? Fusion.Method.SCORE : Fusion.Method.RRF;
    for (Fusion fusion : List.of(served, new Fusion(other, Fusion.DEFAULT.rrfK(), 1, 1))) {
      EvalSystem.Hybrid system = new EvalSystem.Hybrid(encoder, describe(fusion));
      rows.add(new RetrievalRow(system, Evaluation.runPerQuery(index.served(system.label(),
          new PassageRanker(fusion, null, plan.rerankDepth()), RetrievalMode.HYBRID, false), data.queries(), data.qrels())));
    }
  }

  private static String describe(Fusion f) {
    String weights = f.vectorWeight() == 1 && f.keywordWeight() == 1 ? ""
        : String.format(Locale.ROOT, ", weights %.2g/%.2g", f.vectorWeight(), f.keywordWeight());
    return (f.method() == Fusion.Method.RRF ? "RRF k=" + f.rrfK() : "min-max score fusion") + weights;
  }

  private static SymmetricResult symmetric(SymmetricSystem system, PairScorer scorer, SymmetricData data) {
    return new SymmetricResult(system, SymmetricEvaluation.run(system.label(), scorer, data));
  }

  /** HNSW and exact rows of one encoder over the passages; the HNSW retriever stays open for re-rank rows. */
  private Indexed dense(EvalSystem.Encoder encoder, Embedder embedder, List<EvalPassage> passages, String fingerprint,
      BeirDataset data, List<RetrievalRow> rows, Resources open) {
    progress.printf("embedding %d passages with %s on %s%n", passages.size(), encoder.label(),
        embedder.info().provider());
    float[][] corpus = vectors.vectors(embedder, EvalPassage.texts(passages), fingerprint);
    return new Indexed(denseRows(encoder, embedder, passages, corpus, data, rows, open), corpus);
  }

  /** The HNSW and exact rows of passage vectors {@code corpus} searched with {@code queries}' vectors; the HNSW. */
  private HnswDenseRetriever denseRows(EvalSystem.Encoder encoder, Embedder queries, List<EvalPassage> passages,
      float[][] corpus, BeirDataset data, List<RetrievalRow> rows, Resources open) {
    Dense hnswSystem = new Dense(encoder, Search.HNSW);
    HnswDenseRetriever hnsw = open.add(HnswDenseRetriever.build(hnswSystem.label(), queries, passages, corpus,
        settings.index()));
    rows.add(new RetrievalRow(hnswSystem, Evaluation.runPerQuery(hnsw, data.queries(), data.qrels())));
    Dense exactSystem = new Dense(encoder, Search.EXACT);
    Retriever exact = new ExactDenseRetriever(exactSystem.label(), queries, passages, corpus);
    rows.add(new RetrievalRow(exactSystem, Evaluation.runPerQuery(exact, data.queries(), data.qrels())));
    return hnsw;
  }

  /**
   * A student's dense rows with queries encoded by the query service's encoder (same passage vectors, same pooling),
   * where it gives this bundle another graph than its own.
   */
  private void queryEncoderRows(EvalSystem.Student student, ModelBundle bundle, Embedder passageEmbedder,
      List<EvalPassage> passages, float[][] corpus, BeirDataset data, List<RetrievalRow> rows, Resources open) {
    Embedder queries = open.add(bundle.embedder(settings.queryEmbedder()));
    if (queries.info().backboneSha256().equals(passageEmbedder.info().backboneSha256())) {
      return; // this bundle has no other graph: its queries are encoded as its passages are
    }
    denseRows(new EvalSystem.QueryEncoder(student, queries.info().backboneId()), queries, passages, corpus, data, rows,
        open);
  }

  /** Mean time of the uncached teacher scoring the first stage's candidates of the first queries. */
  private double coldTeacherMillis(List<String> texts, Retriever firstStage, List<EvalPassage> passages,
      BeirDataset data, int coldQueries, int depth) {
    Map<String, String> textOf = new HashMap<>();
    passages.forEach(p -> textOf.put(p.docId(), p.embedText()));
    try (TeacherScorer cold = teachers.uncached(texts)) {
      List<String> queries = data.queries().values().stream().limit(coldQueries).toList();
      cold.score("warm-up", List.of(texts.get(0)));
      long nanos = 0;
      for (int i = 0; i < queries.size(); i++) {
        String q = queries.get(i);
        List<String> candidates = firstStage.search(q, depth).stream().map(d -> textOf.get(d.docId())).toList();
        long start = System.nanoTime();
        cold.score(q, candidates);
        nanos += System.nanoTime() - start;
        progress.printf(Locale.ROOT, "cold teacher: query %d/%d%n", i + 1, queries.size());
      }
      return nanos / 1e6 / Math.max(1, queries.size());
    }
  }

  /** The one held-out slice of the students trained on this dataset's split; refuses none and several. */
  private HeldOut heldOutSlice(List<ModelBundle> students, BeirDataset data, String dataset, String split) {
    HeldOut slice = null;
    for (ModelBundle bundle : students) {
      HeldOut own = training.heldOut(bundle, dataset, split, data).orElse(null);
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

  /** What a run opened, closed in reverse order at its end (the first failure thrown, later ones suppressed). */
  private static final class Resources implements AutoCloseable {
    private final List<AutoCloseable> open = new ArrayList<>();

    <T extends AutoCloseable> T add(T resource) {
      open.add(resource);
      return resource;
    }

    @Override
    public void close() throws IOException {
      Exception failure = null;
      for (int i = open.size() - 1; i >= 0; i--) {
        try {
          open.get(i).close();
        } catch (Exception e) {
          if (failure == null) {
            failure = e;
          } else {
            failure.addSuppressed(e);
          }
        }
      }
      if (failure instanceof IOException e) {
        throw e;
      } else if (failure instanceof RuntimeException e) {
        throw e;
      } else if (failure != null) {
        throw new IOException(failure);
      }
    }
  }
}
