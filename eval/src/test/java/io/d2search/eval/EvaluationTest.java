package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
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
    Map<String, BeirDataset.Document> corpus = new LinkedHashMap<>();
    qrels.values().forEach(j -> j.keySet().forEach(id -> corpus.put(id, full.corpus().get(id))));
    full.corpus().values().stream().limit(120).forEach(d -> corpus.putIfAbsent(d.id(), d));
    BeirDataset slice = new BeirDataset(corpus, queries, qrels);

    try (Embedder embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      List<EvalPassage> passages = EvalPassage.chunked(slice, new Chunker(embedder.tokenizer(), new ChunkerConfig(160, 32)));
      assertThat(passages.size()).isGreaterThan(corpus.size());
      float[][] vectors;
      try (VectorCache cache = VectorCache.open(cacheDir, embedder.info())) {
        vectors = PassageVectors.embed(embedder, PassageVectors.texts(passages), cache, "embed");
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
      System.out.print(Evaluation.table(List.of(bm25, hnsw, exact)));
      assertThat(exact.ndcg10()).isGreaterThan(0.6);
      assertThat(exact.recall100()).isGreaterThan(0.9);
      assertThat(hnsw.ndcg10()).isCloseTo(exact.ndcg10(), within(0.02));
      assertThat(bm25.ndcg10()).isGreaterThan(0.5);
      assertThat(exact.queries()).isEqualTo(25);
    }
  }
}
