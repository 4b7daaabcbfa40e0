package io.d2search.lab;

import io.d2search.rank.IemHeads;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.eval.Retriever;
import io.d2search.index.Fusion;
import io.d2search.index.PassageRanker;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.Reranker;
import io.d2search.serve.SearchConfig;
import io.d2search.serve.SearchRequest;
import io.d2search.serve.IssuedQueries;
import io.d2search.eval.ScoredDoc;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHead.Input;
import io.d2search.serve.RankedHit;
import io.d2search.serve.SearchResult;
import io.d2search.serve.SearchService;
import io.d2search.testkit.Randomized;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * eval's IEM row ranks as the query service does: over the same passage vectors (one passage per document, some
 * exact duplicates, so logits and HNSW scores tie), the same IEM and a re-rank depth that covers the corpus, the
 * documents of eval's served IEM row ({@code HnswDenseRetriever#served}) come in the order of {@link SearchService#search}'s hits. Document
 * ids are not in corpus order, so a tie broken by id instead of by first-stage order shows.
 */
class RerankParityTest {
  private static final List<String> WORDS = List.of("cat", "market", "bread", "volcano", "chess", "river", "engine",
      "vaccine", "protein", "election", "guitar", "winter", "orbit", "bicycle", "tax", "forest", "cell", "ocean");
  private static final int DOCS = 60;
  /** Candidates re-ranked per query, above the corpus size: both sides re-rank every document. */
  private static final int DEPTH = 100;

  private static Embedder embedder;

  @BeforeAll
  static void load() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  @AfterAll
  static void close() {
    embedder.close();
  }

  @Test
  void evalsIemRerankOrdersDocumentsAsTheQueryServiceDoes(@TempDir Path dir, TestInfo test) throws Exception {
    Random random = Randomized.random(test.getDisplayName());
    int d = embedder.info().dimension();
    String version = embedder.info().version();
    List<EvalPassage> passages = new ArrayList<>();
    float[][] vectors = new float[DOCS][];
    for (int i = 0; i < DOCS; i++) {
      String docId = String.format("doc-%02d", (i * 37) % DOCS); // a permutation: id order is not corpus order
      passages.add(new EvalPassage(docId + "#0", docId, 0, "title " + i, "passage " + i));
      // About one in four a copy of an earlier document's vector: equal HNSW scores and equal logits.
      vectors[i] = i > 0 && random.nextInt(4) == 0 ? vectors[random.nextInt(i)].clone()
          : Randomized.unitVector(random, d);
    }
    IndexConfig config = IndexConfig.defaults();
    try (PassageIndex index = PassageIndex.open(dir.resolve("service"), version, config);
        HnswDenseRetriever hnsw = HnswDenseRetriever.build("student HNSW", embedder, passages, vectors,
            config.hnswM(), config.hnswBeamWidth())) {
      for (int i = 0; i < DOCS; i++) { // the order HnswDenseRetriever indexes in: the same Lucene doc ids
        index.upsert(passages.get(i).passageId(), embedding(passages.get(i), vectors[i], version));
      }
      index.refresh();

      Map<String, IemHead> heads = new LinkedHashMap<>();
      heads.put("random interaction", IemHeads.random(random, Input.INTERACTION, d, 64));
      heads.put("random concat", IemHeads.random(random, Input.CONCAT, d, 32));
      heads.put("random interaction-only", IemHeads.random(random, Input.INTERACTION_ONLY, d, 16));
      heads.put("constant (every logit ties)", IemHeads.constant(d));
      // Untimed searches first, so the JIT's switch to other SIMD code (which may move a logit's last bit) does not
      // fall between two duplicates of one compared search.
      IemHead warmUp = heads.values().iterator().next();
      compare(index, hnsw, warmUp, passages, vectors, random, Randomized.atLeast(10), null);
      for (Map.Entry<String, IemHead> head : heads.entrySet()) {
        int ties = compare(index, hnsw, head.getValue(), passages, vectors, random, Randomized.atLeast(8),
            head.getKey());
        assertThat(ties).as(head.getKey() + ": tied logits among the compared results").isPositive();
      }
    }
  }

  /**
   * Searches both ways and (when {@code what} is not null) asserts the same documents in the same order with the
   * same logits.
   *
   * @return adjacent tied logits seen in the service's results
   */
  private static int compare(PassageIndex index, HnswDenseRetriever hnsw, IemHead iem, List<EvalPassage> passages,
      float[][] vectors, Random random, int queries, String what) {
    SearchService service = new SearchService(index, embedder, iem, SearchConfig.DEFAULTS.withRerankDepth(DEPTH)
        .withMode(RetrievalMode.VECTOR).withRerankFirstStageWeight(0), new SimpleMeterRegistry(), null,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
    Retriever eval = hnsw.served("student + IEM", new PassageRanker(Fusion.DEFAULT, new Reranker(iem), DEPTH),
        RetrievalMode.VECTOR, true);
    int ties = 0;
    for (int q = 0; q < queries; q++) {
      String query = randomQuery(random);
      SearchResult result = service.search(SearchRequest.of(query, DOCS));
      List<ScoredDoc> docs = eval.search(query, DOCS);
      if (what == null) {
        continue;
      }
      String as = what + ", query '" + query + "'";
      assertThat(result.reranked()).as(as).isTrue();
      assertThat(result.hits()).as(as + ": every document re-ranked").hasSize(DOCS);
      assertThat(docs).as(as).extracting(ScoredDoc::docId)
          .containsExactlyElementsOf(result.hits().stream().map(h -> h.hit().docId()).toList());
      for (int i = 0; i < DOCS; i++) {
        RankedHit hit = result.hits().get(i);
        assertThat(docs.get(i).score()).as(as).isCloseTo(hit.iemScore(), within(1e-4 * Math.max(1, Math.abs(hit.iemScore()))));
        if (i > 0 && hit.iemScore().equals(result.hits().get(i - 1).iemScore())) {
          ties++;
        }
      }
    }
    return ties;
  }

  private static PassageEmbedding embedding(EvalPassage p, float[] v, String version) {
    List<Float> vector = new ArrayList<>(v.length);
    for (float x : v) {
      vector.add(x);
    }
    return PassageEmbedding.newBuilder().setDocId(p.docId()).setN(p.n()).setModelVersion(version).setVector(vector)
        .setTextHash("").setTitle(p.title()).setText(p.text()).setDocVersion(0).setUrl(null).build();
  }

  private static String randomQuery(Random random) {
    StringBuilder query = new StringBuilder();
    for (int i = 0; i < 2 + random.nextInt(5); i++) {
      query.append(WORDS.get(random.nextInt(WORDS.size()))).append(' ');
    }
    return query.toString().strip();
  }
}
