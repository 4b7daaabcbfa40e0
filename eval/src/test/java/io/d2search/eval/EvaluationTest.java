package io.d2search.eval;

import io.d2search.ingest.CorpusDocument;
import io.d2search.data.BeirDataset;
import io.d2search.data.VectorCache;
import io.d2search.data.PassageVectors;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.ChunkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole evaluation on a slice of SciFact with the real model: 25 test queries against their relevant
 * documents plus distractors. Small enough for CI; the full figures come from {@code d2search eval}.
 */
class EvaluationTest {
  @TempDir Path cacheDir;

  @Test
  void differencesAgainstTheBaselineArePairedByQueryAndPrintedWithTheirInterval() {
    Map<String, Evaluation.QueryMetrics> base = new LinkedHashMap<>();
    Map<String, Evaluation.QueryMetrics> better = new LinkedHashMap<>();
    for (int q = 0; q < 50; q++) {
      double ndcg = (q % 10) / 10.0;
      base.put("q" + q, new Evaluation.QueryMetrics(ndcg, 1, ndcg, 1));
      // +0.05 on every query, whatever its level: a small but certain gain
      better.put("q" + q, new Evaluation.QueryMetrics(ndcg + 0.05, 1, ndcg, 1));
    }
    better.put("only here", new Evaluation.QueryMetrics(0, 0, 0, 1));
    Evaluation.Run b = new Evaluation.Run("base", base);
    Evaluation.Run s = new Evaluation.Run("better", better);
    PairedBootstrap.Interval all = Evaluation.ndcgDifference(s, b, null);
    assertThat(all.mean()).isCloseTo(0.05, within(1e-12));
    assertThat(all.excludesZero()).isTrue();
    assertThat(Evaluation.ndcgDifference(s, b, Set.of("q1", "q2")).mean())
        .isCloseTo(0.05, within(1e-12));
    assertThatThrownBy(() -> Evaluation.ndcgDifference(s, b, Set.of("x")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("share no query");
    String table = Evaluation.table(List.of(b.row(), s.row()), Map.of(),
        Map.of("better", all));
    assertThat(table).contains("Δ nDCG@10 vs baseline [95%]", "+0.0500 [+0.0500, +0.0500] *");
  }

  @Test
  void denseAndLexicalRetrieversRankJudgedDocumentsHighAndHnswMatchesExact() throws Exception {
    Path scifact = Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
    Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    BeirDataset full = BeirDataset.load(scifact, "test");
    Map<String, String> queries = new LinkedHashMap<>();
    Map<String, Map<String, Integer>> qrels = new LinkedHashMap<>();
    full.queries().entrySet().stream().limit(25).forEach(e -> {
      queries.put(e.getKey(), e.getValue());
      qrels.put(e.getKey(), full.qrels().get(e.getKey()));
    });
    Map<String, CorpusDocument> corpus = new LinkedHashMap<>();
    qrels.values().forEach(j -> j.keySet().forEach(id -> corpus.put(id, full.corpus().get(id))));
    full.corpus().values().stream().limit(120).forEach(d -> corpus.putIfAbsent(d.id(), d));
    BeirDataset slice = new BeirDataset(corpus, queries, qrels);

    try (Embedder embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      List<EvalPassage> passages = EvalPassage.chunked(slice, new Chunker(embedder.tokenizer(), new ChunkerConfig(160, 32)));
      assertThat(passages.size()).isGreaterThan(corpus.size());
      float[][] vectors;
      try (VectorCache cache = VectorCache.open(cacheDir, embedder.info())) {
        vectors = PassageVectors.embed(embedder, EvalPassage.texts(passages), cache, "embed");
      }
      try (VectorCache reopened = VectorCache.open(cacheDir, embedder.info())) {
        assertThat(reopened.size()).isEqualTo(passages.stream().map(EvalPassage::embedText).distinct().count());
        assertThat(reopened.get(passages.get(0).embedText())).containsExactly(vectors[0]);
      }
      EvalRow exact = Evaluation.run(new ExactDenseRetriever("exact", embedder, passages, vectors), queries, qrels);
      EvalRow hnsw;
      try (HnswDenseRetriever r = HnswDenseRetriever.build("hnsw", embedder, passages, vectors, 16, 100)) {
        hnsw = Evaluation.run(r, queries, qrels);
      }
      EvalRow bm25;
      try (Bm25Retriever r = new Bm25Retriever(passages)) {
        bm25 = Evaluation.run(r, queries, qrels);
      }
      // The served keyword mode (BM25 inside the passage index) ranks as this separate in-memory BM25 index does.
      try (HnswDenseRetriever r = HnswDenseRetriever.build("hnsw", embedder, passages, vectors, 16, 100)) {
        EvalRow served = Evaluation.run(r.served("keyword", new io.d2search.index.PassageRanker(
            io.d2search.index.Fusion.DEFAULT, null, 100), io.d2search.index.RetrievalMode.KEYWORD, false), queries,
            qrels);
        assertThat(served.ndcg10()).isCloseTo(bm25.ndcg10(), within(1e-9));
        assertThat(served.recall100()).isCloseTo(bm25.recall100(), within(1e-9));
      }
      try (HnswDenseRetriever r = HnswDenseRetriever.build("hnsw", embedder, passages, vectors, 16, 100)) {
        // Re-ranking the HNSW top 100 by the exact cosine gives the exact ranking's quality back.
        Map<String, float[]> byText = new java.util.HashMap<>();
        for (int i = 0; i < passages.size(); i++) {
          byText.put(passages.get(i).embedText(), vectors[i]);
        }
        RerankRetriever cosine = new RerankRetriever("cosine re-rank", r, (q, texts) -> {
          float[] qv = embedder.embed(q);
          return texts.stream().mapToDouble(t -> org.apache.lucene.util.VectorUtil.dotProduct(qv, byText.get(t)))
              .toArray();
        }, 100, passages);
        Evaluation.Run run = Evaluation.runPerQuery(cosine, queries, qrels);
        assertThat(run.row().ndcg10()).isCloseTo(exact.ndcg10(), within(0.005));
        // A row over a subset is the mean over just those queries.
        java.util.Set<String> firstTen = new java.util.LinkedHashSet<>(queries.keySet().stream().limit(10).toList());
        EvalRow sub = run.row(firstTen);
        assertThat(sub.queries()).isEqualTo(10);
        assertThat(sub.ndcg10()).isCloseTo(firstTen.stream().mapToDouble(q -> run.perQuery().get(q).ndcg10())
            .average().orElseThrow(), within(1e-12));

        // The IEM re-ranks the HNSW candidates by its own logit: documents come from the first stage only, and
        // the best document is the candidate whose best passage has the highest logit.
        java.util.Random random = new java.util.Random(7);
        int d = embedder.info().dimension();
        io.d2search.rank.IemHead iem = new io.d2search.rank.IemHead(io.d2search.rank.IemHead.Input.CONCAT,
            linear(random, 16, 2 * d), linear(random, 16, 16), linear(random, 16, 16), linear(random, 1, 16));
        Retriever reranked = r.served("iem", new io.d2search.index.PassageRanker(io.d2search.index.Fusion.DEFAULT,
            new io.d2search.rank.Reranker(iem), 20), io.d2search.index.RetrievalMode.VECTOR, true);
        String query = queries.values().iterator().next();
        List<ScoredDoc> top = reranked.search(query, 10);
        assertThat(top).hasSize(10);
        assertThat(top.stream().map(ScoredDoc::docId).distinct()).hasSize(10);
        float[] qv = embedder.embed(query);
        java.util.Set<Double> logits = new java.util.HashSet<>();
        double best = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < passages.size(); i++) {
          float z = iem.logit(qv, vectors[i], io.d2search.rank.IemHead.Branch.ASYMMETRIC);
          best = Math.max(best, z);
          if (passages.get(i).docId().equals(top.get(0).docId())) {
            logits.add((double) z);
          }
        }
        // Each document at its best passage's logit, best first, never above the best logit of the corpus.
        assertThat(top.get(0).score()).isLessThanOrEqualTo((float) best + 1e-5f);
        assertThat(logits.stream().mapToDouble(Double::doubleValue).max().orElseThrow())
            .isCloseTo(top.get(0).score(), within(1e-5));
        for (int i = 1; i < top.size(); i++) {
          assertThat(top.get(i).score()).isLessThanOrEqualTo(top.get(i - 1).score());
        }
      }
      System.out.print(Evaluation.table(List.of(bm25, hnsw, exact)));
      assertThat(exact.ndcg10()).isGreaterThan(0.6);
      assertThat(exact.recall100()).isGreaterThan(0.9);
      assertThat(hnsw.ndcg10()).isCloseTo(exact.ndcg10(), within(0.02));
      assertThat(bm25.ndcg10()).isGreaterThan(0.5);
      assertThat(exact.queries()).isEqualTo(25);
    }
  }

  private static io.d2search.nn.Linear linear(java.util.Random random, int out, int in) {
    float[] w = new float[out * in];
    float[] b = new float[out];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (random.nextGaussian() / Math.sqrt(in));
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = (float) (0.1 * random.nextGaussian());
    }
    return io.d2search.nn.Linear.of(out, in, w, b);
  }
}
