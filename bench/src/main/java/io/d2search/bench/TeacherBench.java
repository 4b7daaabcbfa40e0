package io.d2search.bench;

import io.d2search.teach.Bm25;
import io.d2search.teach.Calibration;
import io.d2search.teach.EnsembleConfig;
import io.d2search.teach.EnsembleTeacher;
import io.d2search.teach.Normalization;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.data.BeirDataset;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.EvalRow;
import io.d2search.eval.Evaluation;
import io.d2search.eval.ExactDenseRetriever;
import io.d2search.data.PassageVectors;
import io.d2search.eval.RankingMetrics;
import io.d2search.eval.ScoredDoc;
import io.d2search.data.VectorCache;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleBiFunction;
import java.util.stream.IntStream;

/**
 * Fits the {@link EnsembleTeacher}'s fusion weights and calibration on a BEIR dataset's TRAIN split and measures
 * re-ranking on its TEST split. The candidates of every query are the top {@code depth} documents of the student's
 * starting point (all-MiniLM-L6-v2, mean pooling, exact search over whole documents {@code title + " " + text},
 * 256 tokens); each system re-ranks them, and nDCG@10, Recall@depth (the candidates' recall, the same for every
 * re-ranker) and MRR@10 are averaged over the test queries. Weights are chosen by grid search on the simplex
 * (step 0.05) maximising train nDCG@10; calibration is Platt scaling of the fused score on "judged relevant" over
 * every train candidate. Nothing is tuned on test.
 *
 * <p>Run it with {@code d2search bench teacher} (see {@code --help}).
 */
public final class TeacherBench {
  /**
   * What to measure.
   *
   * @param data a BEIR dataset directory (SciFact: {@code <lab.data-dir>/scifact})
   * @param cache where the teacher's and the student's corpus vectors are cached
   * @param depth candidates per query (the student's exact top {@code depth})
   * @param threads ONNX Runtime intra-op threads, 0 = all cores
   * @param fitSplit the split weights and calibration are fitted on
   * @param evalSplit the split they are measured on
   */
  public record Plan(Path data, Path cache, int depth, int threads, String fitSplit, String evalSplit) {
    public Plan {
      if (depth < 1) {
        throw new IllegalArgumentException("depth must be >= 1: " + depth);
      }
      if (fitSplit.equals(evalSplit)) {
        throw new IllegalArgumentException("fit and eval splits must differ (nothing is tuned on the eval split)");
      }
    }
  }

  private final Plan plan;
  /** The report is printed as it is measured: fitting takes minutes, and each table is useful on its own. */
  private final PrintStream out;

  public TeacherBench(Plan plan, PrintStream out) {
    this.plan = plan;
    this.out = out;
  }

  /** One query's candidates and every component's raw score on them. */
  record Candidates(String queryId, List<String> docIds, double[] student, double[][] raw, double studentMillis,
      double millis) {}

  /** Fits on the fit split, measures on the eval split, and prints every table. */
  public void run() throws Exception {
    Path data = plan.data();
    Path cache = plan.cache();
    int depth = plan.depth();
    int threads = plan.threads();
    String fitSplit = plan.fitSplit();
    String evalSplit = plan.evalSplit();

    BeirDataset fit = BeirDataset.load(data, fitSplit);
    BeirDataset eval = BeirDataset.load(data, evalSplit);
    List<EvalPassage> docs = EvalPassage.wholeDocs(eval);
    List<String> texts = EvalPassage.texts(docs);
    Map<String, String> textOf = new HashMap<>();
    docs.forEach(d -> textOf.put(d.docId(), d.embedText()));
    out.printf(Locale.ROOT, "%s: %d documents, %d %s queries, %d %s queries%n", data, docs.size(),
        fit.queries().size(), fitSplit, eval.queries().size(), evalSplit);

    EnsembleConfig config = EnsembleConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(threads);
    Bm25.Stats stats = Bm25.statistics(texts);
    Map<String, Candidates> fitCands;
    Map<String, Candidates> evalCands;
    List<EvalRow> fullRows = new ArrayList<>();
    try (Embedder minilm = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU)
        .withIntraOpThreads(threads));
        EnsembleTeacher teacher = EnsembleTeacher.create(config, stats, cache.resolve("vectors"))) {
      float[][] vectors;
      try (VectorCache vc = VectorCache.open(cache.resolve("vectors"), minilm.info())) {
        vectors = PassageVectors.embed(minilm, texts, vc, "all-minilm-l6-v2");
      }
      teacher.precompute(texts);
      ExactDenseRetriever student = new ExactDenseRetriever("MiniLM", minilm, docs, vectors);
      fitCands = candidates(fit, student, teacher, textOf, depth);
      evalCands = candidates(eval, student, teacher, textOf, depth);
      for (int c = 0; c < config.dense().size(); c++) {
        fullRows.add(fullRetrieval(eval, teacher, c, docs, depth));
      }
    }

    List<String> names = config.componentNames();
    Normalization perCall = Normalization.perCall();
    Normalization global = globalNormalization(fitCands, names.size());
    Fit perCallFit = gridSearch(fitCands, fit.qrels(), names.size(), perCall);
    Fit globalFit = gridSearch(fitCands, fit.qrels(), names.size(), global);
    Calibration perCallCal = platt(fitCands, fit.qrels(), names, perCallFit.weights(), perCall);
    Calibration globalCal = platt(fitCands, fit.qrels(), names, globalFit.weights(), global);
    out.printf(Locale.ROOT, "fitted on %s, components %s:%n  PER_CALL weights %s, calibration slope %.6f "
        + "offset %.6f (train nDCG@10 %.4f)%n  GLOBAL centers %s scales %s, weights %s, calibration slope %.6f "
        + "offset %.6f (train nDCG@10 %.4f)%n", fitSplit, names, perCallFit.weights(), perCallCal.slope(),
        perCallCal.offset(), perCallFit.ndcg(), global.centers(), global.scales(), globalFit.weights(),
        globalCal.slope(), globalCal.offset(), globalFit.ndcg());

    List<EvalRow> rows = new ArrayList<>();
    EvalRow minilm = rerank("MiniLM bi-encoder (exact, top-" + depth + ")", evalCands, eval.qrels(), depth,
        (c, i) -> c.student()[i]);
    double searchMs = evalCands.values().stream().mapToDouble(Candidates::studentMillis).average().orElse(0);
    rows.add(new EvalRow(minilm.system(), minilm.ndcg10(), minilm.recall100(), minilm.mrr10(), searchMs,
        minilm.queries()));
    for (int k = 0; k < names.size(); k++) {
      int comp = k;
      rows.add(rerank(names.get(k) + " re-rank", evalCands, eval.qrels(), depth, (c, i) -> c.raw()[comp][i]));
    }
    rows.addAll(fullRows);
    rows.add(rerank("ensemble re-rank, in-code defaults (" + config.normalization().mode() + " "
        + config.weights() + ")", evalCands, eval.qrels(), depth,
        fusedScore(names, config.weights(), config.normalization())));
    rows.add(rerank("ensemble re-rank, PER_CALL fitted " + perCallFit.weights(), evalCands, eval.qrels(), depth,
        fusedScore(names, perCallFit.weights(), perCall)));
    rows.add(rerank("ensemble re-rank, GLOBAL fitted " + globalFit.weights(), evalCands, eval.qrels(), depth,
        fusedScore(names, globalFit.weights(), global)));
    List<Double> equal = new ArrayList<>();
    for (int k = 0; k < names.size(); k++) {
      equal.add(k < names.size() - 1 ? 1.0 : 0.0);
    }
    rows.add(rerank("dense-only ensemble, equal weights (PER_CALL)", evalCands, eval.qrels(), depth,
        fusedScore(names, equal, perCall)));
    out.println("split " + evalSplit + " (ms/query of a re-rank row: every teacher component on the "
        + depth + " candidates, passage vectors cached, query embedded; of a full-corpus row: its query embedding"
        + " and exact search):");
    out.print(Evaluation.table(rows));
    calibrationReport("PER_CALL, fit (" + fitSplit + ")", fitCands, fit.qrels(), names, perCallFit.weights(),
        perCall, perCallCal);
    calibrationReport("PER_CALL, eval (" + evalSplit + ")", evalCands, eval.qrels(), names, perCallFit.weights(),
        perCall, perCallCal);
    calibrationReport("GLOBAL, fit (" + fitSplit + ")", fitCands, fit.qrels(), names, globalFit.weights(), global,
        globalCal);
    calibrationReport("GLOBAL, eval (" + evalSplit + ")", evalCands, eval.qrels(), names, globalFit.weights(),
        global, globalCal);
    smallSetReport("PER_CALL, " + evalSplit, evalCands, eval.qrels(), names, perCallFit.weights(), perCall,
        perCallCal);
    smallSetReport("GLOBAL, " + evalSplit, evalCands, eval.qrels(), names, globalFit.weights(), global, globalCal);
  }

  private Map<String, Candidates> candidates(BeirDataset split, ExactDenseRetriever student,
      EnsembleTeacher teacher, Map<String, String> textOf, int depth) {
    Map<String, Candidates> out = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, String> q : split.queries().entrySet()) {
      long searchStart = System.nanoTime();
      List<ScoredDoc> top = student.search(q.getValue(), depth);
      double searchMs = (System.nanoTime() - searchStart) / 1e6;
      List<String> ids = top.stream().map(ScoredDoc::docId).toList();
      long start = System.nanoTime();
      double[][] raw = teacher.rawScores(q.getValue(), ids.stream().map(textOf::get).toList());
      double ms = (System.nanoTime() - start) / 1e6;
      out.put(q.getKey(), new Candidates(q.getKey(), ids, top.stream().mapToDouble(ScoredDoc::score).toArray(), raw,
          searchMs, ms));
    }
    return out;
  }

  /** One dense component alone, exact search over the whole corpus. */
  private EvalRow fullRetrieval(BeirDataset split, EnsembleTeacher teacher, int component,
      List<EvalPassage> docs, int depth) {
    List<float[]> docVectors = teacher.denseVectors(component, EvalPassage.texts(docs), false);
    double ndcg = 0;
    double recall = 0;
    double mrr = 0;
    long nanos = 0;
    for (Map.Entry<String, String> q : split.queries().entrySet()) {
      long start = System.nanoTime();
      float[] qv = teacher.denseVectors(component, List.of(q.getValue()), true).get(0);
      double[] s = new double[docs.size()];
      for (int i = 0; i < s.length; i++) {
        float[] d = docVectors.get(i);
        double dot = 0;
        for (int j = 0; j < d.length; j++) {
          dot += (double) qv[j] * d[j];
        }
        s[i] = dot;
      }
      List<String> ranking = IntStream.range(0, s.length).boxed()
          .sorted(Comparator.<Integer>comparingDouble(i -> -s[i]).thenComparing(i -> docs.get(i).docId()))
          .limit(depth).map(i -> docs.get(i).docId()).toList();
      nanos += System.nanoTime() - start;
      Map<String, Integer> judged = split.qrels().get(q.getKey());
      ndcg += RankingMetrics.ndcg(ranking, judged, 10);
      recall += RankingMetrics.recall(ranking, judged, depth);
      mrr += RankingMetrics.mrr(ranking, judged, 10);
    }
    int n = split.queries().size();
    String name = teacher.config().dense().get(component).name() + " alone (exact, full corpus)";
    return new EvalRow(name, ndcg / n, recall / n, mrr / n, nanos / 1e6 / n, n);
  }

  private ToDoubleBiFunction<Candidates, Integer> fusedScore(List<String> names, List<Double> weights,
      Normalization normalization) {
    Map<Candidates, double[]> memo = new java.util.IdentityHashMap<>();
    return (c, i) -> memo.computeIfAbsent(c,
        k -> EnsembleTeacher.fuse(names, k.raw(), weights, normalization, Calibration.IDENTITY).fused())[i];
  }

  /** Pooled mean and standard deviation of each component's raw scores over every fitting candidate. */
  Normalization globalNormalization(Map<String, Candidates> cands, int components) {
    List<Double> centers = new ArrayList<>();
    List<Double> scales = new ArrayList<>();
    for (int k = 0; k < components; k++) {
      double sum = 0;
      double sq = 0;
      long n = 0;
      for (Candidates c : cands.values()) {
        for (double v : c.raw()[k]) {
          sum += v;
          sq += v * v;
          n++;
        }
      }
      double mean = sum / n;
      centers.add(mean);
      scales.add(Math.sqrt(Math.max(1e-12, sq / n - mean * mean)));
    }
    return Normalization.global(centers, scales);
  }

  /**
   * Set-size dependence: each test query's judged candidates plus its 7 best-ranked (by MiniLM) other candidates
   * scored as one small call, as distillation asks (a positive and a few hard negatives), against the same pairs'
   * probabilities from the full call.
   */
  private void smallSetReport(String label, Map<String, Candidates> cands,
      Map<String, Map<String, Integer>> qrels, List<String> names, List<Double> weights, Normalization normalization,
      Calibration calibration) {
    double ndcg = 0;
    double relSmall = 0;
    double relFull = 0;
    double otherSmall = 0;
    double drift = 0;
    int rel = 0;
    int pairs = 0;
    int queries = 0;
    for (Candidates c : cands.values()) {
      Map<String, Integer> judged = qrels.get(c.queryId());
      List<Integer> keep = new ArrayList<>();
      int negatives = 0;
      for (int i = 0; i < c.docIds().size(); i++) {
        boolean r = judged.getOrDefault(c.docIds().get(i), 0) > 0;
        if (r || negatives < 7) {
          keep.add(i);
          negatives += r ? 0 : 1;
        }
      }
      if (keep.size() == negatives) {
        continue; // no judged document among the candidates
      }
      double[][] raw = new double[names.size()][keep.size()];
      for (int k = 0; k < names.size(); k++) {
        for (int j = 0; j < keep.size(); j++) {
          raw[k][j] = c.raw()[k][keep.get(j)];
        }
      }
      double[] small = EnsembleTeacher.fuse(names, raw, weights, normalization, calibration).probabilities();
      double[] full = EnsembleTeacher.fuse(names, c.raw(), weights, normalization, calibration).probabilities();
      List<String> ids = keep.stream().map(c.docIds()::get).toList();
      ndcg += RankingMetrics.ndcg(IntStream.range(0, ids.size()).boxed()
          .sorted(Comparator.<Integer>comparingDouble(j -> -small[j]).thenComparing(ids::get)).map(ids::get)
          .toList(), judged, 10);
      queries++;
      for (int j = 0; j < keep.size(); j++) {
        boolean r = judged.getOrDefault(ids.get(j), 0) > 0;
        drift += Math.abs(small[j] - full[keep.get(j)]);
        pairs++;
        if (r) {
          relSmall += small[j];
          relFull += full[keep.get(j)];
          rel++;
        } else {
          otherSmall += small[j];
        }
      }
    }
    out.printf(Locale.ROOT, "small sets (%s, judged + 7 hard negatives, %d queries): nDCG@10 %.4f; mean "
        + "P(relevant) of judged %.4f (%.4f in the full call), of negatives %.4f; mean |P(small) - P(full)| %.4f%n",
        label, queries, ndcg / queries, relSmall / rel, relFull / rel, otherSmall / (pairs - rel), drift / pairs);
  }

  EvalRow rerank(String name, Map<String, Candidates> cands, Map<String, Map<String, Integer>> qrels,
      int depth, ToDoubleBiFunction<Candidates, Integer> score) {
    double ndcg = 0;
    double recall = 0;
    double mrr = 0;
    double ms = 0;
    for (Candidates c : cands.values()) {
      List<String> ranking = ranking(c, score);
      Map<String, Integer> judged = qrels.get(c.queryId());
      ndcg += RankingMetrics.ndcg(ranking, judged, 10);
      recall += RankingMetrics.recall(ranking, judged, depth);
      mrr += RankingMetrics.mrr(ranking, judged, 10);
      ms += c.millis();
    }
    int n = Math.max(1, cands.size());
    return new EvalRow(name, ndcg / n, recall / n, mrr / n, ms / n, cands.size());
  }

  private List<String> ranking(Candidates c, ToDoubleBiFunction<Candidates, Integer> score) {
    int n = c.docIds().size();
    double[] s = new double[n];
    for (int i = 0; i < n; i++) {
      s[i] = score.applyAsDouble(c, i);
    }
    return IntStream.range(0, n).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> -s[i]).thenComparing(i -> c.docIds().get(i)))
        .map(c.docIds()::get).toList();
  }

  /** Weights on the simplex (step 0.05) with the best mean nDCG@10 on the given candidates; ties → first found. */
  Fit gridSearch(Map<String, Candidates> cands, Map<String, Map<String, Integer>> qrels, int components,
      Normalization normalization) {
    // z-scores per query once; then each weight vector is a dot product per candidate.
    List<double[][]> z = new ArrayList<>();
    List<Candidates> list = new ArrayList<>(cands.values());
    for (Candidates c : list) {
      double[][] zc = new double[components][];
      for (int k = 0; k < components; k++) {
        zc[k] = normalization.apply(k, c.raw()[k]);
      }
      z.add(zc);
    }
    int steps = 20;
    double best = -1;
    double[] bestW = null;
    for (int[] grid : simplex(components, steps)) {
      double[] w = Arrays.stream(grid).mapToDouble(g -> (double) g / steps).toArray();
      double total = 0;
      for (int q = 0; q < list.size(); q++) {
        Candidates c = list.get(q);
        double[][] zc = z.get(q);
        total += RankingMetrics.ndcg(ranking(c, (cc, i) -> {
          double s = 0;
          for (int k = 0; k < w.length; k++) {
            s += w[k] * zc[k][i];
          }
          return s;
        }), qrels.get(c.queryId()), 10);
      }
      double mean = total / list.size();
      if (mean > best + 1e-12) {
        best = mean;
        bestW = w;
      }
    }
    out.printf(Locale.ROOT, "grid search (%s): best fit nDCG@10 %.4f at %s%n", normalization.mode(), best,
        Arrays.toString(bestW));
    return new Fit(Arrays.stream(bestW).boxed().toList(), best);
  }

  /** All non-negative integer vectors of the given length summing to {@code total}. */
  private List<int[]> simplex(int length, int total) {
    List<int[]> out = new ArrayList<>();
    fill(new int[length], 0, total, out);
    return out;
  }

  private void fill(int[] v, int at, int left, List<int[]> out) {
    if (at == v.length - 1) {
      v[at] = left;
      out.add(v.clone());
      return;
    }
    for (int x = 0; x <= left; x++) {
      v[at] = x;
      fill(v, at + 1, left - x, out);
    }
  }

  /** Weights found by the grid search and their mean nDCG@10 on the fitting queries. */
  record Fit(List<Double> weights, double ndcg) {}

  Calibration platt(Map<String, Candidates> cands, Map<String, Map<String, Integer>> qrels, List<String> names,
      List<Double> weights, Normalization normalization) {
    List<Double> x = new ArrayList<>();
    List<Boolean> y = new ArrayList<>();
    for (Candidates c : cands.values()) {
      double[] fused = EnsembleTeacher.fuse(names, c.raw(), weights, normalization, Calibration.IDENTITY).fused();
      Map<String, Integer> judged = qrels.get(c.queryId());
      for (int i = 0; i < fused.length; i++) {
        x.add(fused[i]);
        y.add(judged.getOrDefault(c.docIds().get(i), 0) > 0);
      }
    }
    boolean[] labels = new boolean[y.size()];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = y.get(i);
    }
    return Calibration.fit(x.stream().mapToDouble(Double::doubleValue).toArray(), labels, 100);
  }

  private void calibrationReport(String label, Map<String, Candidates> cands,
      Map<String, Map<String, Integer>> qrels, List<String> names, List<Double> weights, Normalization normalization,
      Calibration calibration) {
    double logLoss = 0;
    double relSum = 0;
    double nonSum = 0;
    int rel = 0;
    int non = 0;
    double top1 = 0;
    for (Candidates c : cands.values()) {
      double[] p = EnsembleTeacher.fuse(names, c.raw(), weights, normalization, calibration).probabilities();
      Map<String, Integer> judged = qrels.get(c.queryId());
      double max = 0;
      for (int i = 0; i < p.length; i++) {
        boolean r = judged.getOrDefault(c.docIds().get(i), 0) > 0;
        double pi = Math.min(1 - 1e-12, Math.max(1e-12, p[i]));
        logLoss -= r ? Math.log(pi) : Math.log(1 - pi);
        if (r) {
          relSum += p[i];
          rel++;
        } else {
          nonSum += p[i];
          non++;
        }
        max = Math.max(max, p[i]);
      }
      top1 += max;
    }
    out.printf(Locale.ROOT,
        "calibration on %s: log-loss %.4f per pair; mean P(relevant) %.4f over %d judged-relevant candidates, %.4f "
            + "over %d others; mean top score per query %.4f%n",
        label, logLoss / (rel + non), relSum / Math.max(1, rel), rel, nonSum / Math.max(1, non), non,
        top1 / Math.max(1, cands.size()));
  }
}
