package io.d2search.serve;

import io.d2search.rank.IemHeads;
import io.d2search.testkit.Randomized;
import static io.d2search.index.HitAssertions.assertSameRanking;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.index.Embeddings;
import io.d2search.index.Hit;
import io.d2search.index.IndexConfig;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHead.Branch;
import io.d2search.rank.IemHead.Input;
import io.d2search.index.RetrievalMode;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

class SearchServiceTest {
  private static final List<String> WORDS = List.of("cat", "market", "bread", "volcano", "chess", "river", "engine",
      "vaccine", "protein", "election", "guitar", "winter", "orbit", "bicycle", "tax", "forest", "cell", "ocean");

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
  void refusesAnIndexOfAnotherModelVersion(@TempDir Path dir) {
    try (PassageIndex index = PassageIndex.open(dir, "other", IndexConfig.defaults())) {
      assertThatThrownBy(() -> new SearchService(index, embedder, new SimpleMeterRegistry(), null))
          .isInstanceOf(ModelVersionMismatchException.class);
    }
  }

  @Test
  void searchesAndTimesAndValidates(@TempDir Path dir) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      index.upsert("cats#0", HttpApiTest.embedding(embedder, "cats", 0, "Cats", "A cat is a small pet."));
      index.refresh();
      SearchService search = new SearchService(index, embedder, registry, null);
      SearchResult result = search.search("kitten", 5);
      assertThat(result.hits()).extracting(h -> h.passageId()).containsExactly("cats#0");
      assertThat(result.modelVersion()).isEqualTo(embedder.info().version());
      assertThat(result.mode()).as("the default mode").isEqualTo(RetrievalMode.HYBRID);
      assertThat(registry.get("d2search.search.latency").tag("mode", "hybrid").timer().count()).isEqualTo(1);
      assertThat(registry.get("d2search.search.latency").tag("mode", "vector").timer().count()).isZero();
      for (String stage : List.of("embed", "vector", "keyword", "fuse")) {
        assertThat(registry.get("d2search.search.stage").tag("stage", stage).timer().count()).as(stage).isEqualTo(1);
      }
      // A keyword search needs no query vector: nothing is embedded.
      assertThat(search.search(SearchRequest.of("cat", 5).withMode(RetrievalMode.KEYWORD)).hits())
          .extracting(RankedHit::passageId).containsExactly("cats#0");
      assertThat(registry.get("d2search.search.stage").tag("stage", "embed").timer().count()).isEqualTo(1);
      assertThat(search.eventsEnabled()).isFalse();
      assertThat(search.recordClick(result.queryId(), "cats#0", 1, 0)).isFalse();

      assertThatThrownBy(() -> search.search(" ", 5)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("x".repeat(SearchService.MAX_QUERY_CHARS + 1), 5))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("cats", 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("cats", SearchService.MAX_K + 1))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "no-hash", 1, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "a#0", 0, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "a#0", 1, -1)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  /** An index of random unit vectors of the embedder's dimension, in three segments with some deletes. */
  private static Map<String, float[]> fill(PassageIndex index, Random random, int passages) {
    Map<String, float[]> vectors = new HashMap<>();
    int d = embedder.info().dimension();
    for (int i = 0; i < passages; i++) {
      float[] v = Randomized.unitVector(random, d);
      vectors.put("p" + i + "#0", v);
      index.upsert("p" + i + "#0", Embeddings.of("p" + i, 0, index.modelVersion(), v, "passage " + i));
      if (i % (passages / 3) == 0) {
        index.refresh(); // a new segment
      }
    }
    for (int i = 0; i < passages; i += 7) {
      vectors.remove("p" + i + "#0");
      index.delete("p" + i + "#0");
    }
    index.refresh();
    return vectors;
  }

  private static String randomQuery(Random random) {
    StringBuilder query = new StringBuilder();
    for (int i = 0; i < 2 + random.nextInt(5); i++) {
      query.append(WORDS.get(random.nextInt(WORDS.size()))).append(' ');
    }
    return query.toString().strip();
  }

  @Test
  void rerankedOrderIsTheHnswTopDepthSortedByIemLogit(@TempDir Path dir, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int d = embedder.info().dimension();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      Map<String, float[]> vectors = fill(index, random, 300);
      for (int round = 0; round < Randomized.atLeast(6); round++) {
        long seed = random.nextLong(); // each round its own head, depth, k and query
        Random r = new Random(seed);
        IemHead iem = IemHeads.random(r, Input.values()[round % 2], d, round == 0 ? 512 : 16 + r.nextInt(64));
        int depth = 1 + r.nextInt(150);
        int k = 1 + r.nextInt(30);
        String query = randomQuery(r);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SearchService search = vectorSearch(index, iem, depth, registry);
        SearchResult result = search.search(query, k);

        // The oracle: HNSW top max(k, depth), each scored by IemHead.logit on the vector that was upserted.
        float[] q = embedder.embed(query);
        List<Hit> hnsw = index.search(q, Math.max(k, depth));
        Map<String, Integer> hnswRank = new HashMap<>();
        Map<String, Float> logit = new HashMap<>();
        for (int i = 0; i < hnsw.size(); i++) {
          hnswRank.put(hnsw.get(i).passageId(), i + 1);
          logit.put(hnsw.get(i).passageId(), iem.logit(q, vectors.get(hnsw.get(i).passageId()), Branch.ASYMMETRIC));
        }
        List<Hit> expected = new ArrayList<>(hnsw);
        expected.sort((a, b) -> Float.compare(logit.get(b.passageId()), logit.get(a.passageId()))); // stable

        String what = "round " + round + " (seed " + seed + "), depth " + depth + ", k " + k + ", query '" + query + "'";
        assertThat(result.reranked()).as(what).isTrue();
        assertThat(result.hits()).as(what).hasSize(Math.min(k, hnsw.size()));
        assertThat(result.hits().stream().map(RankedHit::passageId).distinct()).as(what).hasSize(result.hits().size());
        for (int i = 0; i < result.hits().size(); i++) {
          RankedHit got = result.hits().get(i);
          String id = got.passageId();
          assertThat(hnswRank).as(what).containsKey(id);
          float z = logit.get(id);
          float tolerance = 1e-4f * Math.max(1, Math.abs(z));
          // The same passage as the oracle's, or one whose logit ties with it up to float rounding (logits and
          // logit sum in SIMD order, so their last bits may differ).
          if (!id.equals(expected.get(i).passageId())) {
            assertThat(z).as(what + ", position " + i).isCloseTo(logit.get(expected.get(i).passageId()),
                within(tolerance));
          }
          assertThat(got.iemScore()).as(what).isCloseTo(z, within(tolerance));
          assertThat(got.score()).isEqualTo(got.iemScore());
          assertThat(got.firstStageRank()).as(what).isEqualTo(hnswRank.get(id));
          assertSameRanking(List.of(got.hit()), List.of(hnsw.get(got.firstStageRank() - 1)));
          if (i > 0) {
            RankedHit before = result.hits().get(i - 1);
            assertThat(got.iemScore()).as(what).isLessThanOrEqualTo(before.iemScore());
            if (got.iemScore().equals(before.iemScore())) {
              assertThat(got.firstStageRank()).as(what + ": ties keep the HNSW order").isGreaterThan(before.firstStageRank());
            }
          }
        }
        assertThat(rerankTimer(registry).count()).isEqualTo(1);
      }
    }
  }

  @Test
  void withoutAnIemOrWithRerankOffTheResultIsTheHnswTopK(@TempDir Path dir, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int d = embedder.info().dimension();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      fill(index, random, 200);
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      SearchService plain = vectorSearch(index, null, 100, registry);
      SearchService withIem = vectorSearch(index, IemHeads.random(random, Input.CONCAT, d, 32), 50, registry);
      assertThat(plain.iem()).isEmpty();
      assertThat(withIem.iem()).isPresent();
      for (int round = 0; round < Randomized.atLeast(5); round++) {
        String query = randomQuery(random);
        int k = 1 + random.nextInt(40);
        List<Hit> hnsw = index.search(embedder.embed(query), k);
        for (SearchResult result : List.of(plain.search(query, k), plain.search(SearchRequest.of(query, k)),
            withIem.search(SearchRequest.of(query, k).withRerank(false)))) {
          assertThat(result.reranked()).isFalse();
          assertSameRanking(result.hits().stream().map(RankedHit::hit).toList(), hnsw);
          for (int i = 0; i < result.hits().size(); i++) {
            RankedHit hit = result.hits().get(i);
            assertThat(hit.firstStageRank()).isEqualTo(i + 1);
            assertThat(hit.vector().rank()).isEqualTo(i + 1);
            assertThat(hit.keyword()).isNull();
            assertThat(hit.iemScore()).isNull();
            assertThat(hit.score()).isEqualTo(hit.firstStageScore()).isEqualTo(hit.vector().score());
          }
        }
      }
      assertThat(rerankTimer(registry).count()).isZero();
      assertThat(withIem.search(randomQuery(random), 5).reranked()).isTrue();
      assertThat(rerankTimer(registry).count()).isEqualTo(1);
    }
  }

  @Test
  void rerankingReadsTheTopDepthAndNeverFewerThanK(@TempDir Path dir, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int d = embedder.info().dimension();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      fill(index, random, 200);
      String query = randomQuery(random);
      List<Hit> hnsw = index.search(embedder.embed(query), 20);
      // −(1 + q·p) puts the least similar of the top 20 first: HNSW ranks 20, 19, …
      SearchService reversing = vectorSearch(index, IemHeads.negatedSimilarity(d), 20, new SimpleMeterRegistry());
      assertThat(reversing.search(query, 5).hits()).extracting(RankedHit::firstStageRank).containsExactly(20, 19, 18, 17, 16);
      // A depth below k re-scores k candidates.
      SearchService shallow = vectorSearch(index, IemHeads.negatedSimilarity(d), 3, new SimpleMeterRegistry());
      SearchResult result = shallow.search(query, 10);
      assertThat(result.hits()).extracting(RankedHit::firstStageRank).containsExactly(10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
      assertSameRanking(result.hits().stream().map(RankedHit::hit).toList(), hnsw.subList(0, 10).reversed());
      // Every logit equal: the HNSW order stands.
      SearchService constant = vectorSearch(index, IemHeads.constant(d), 20, new SimpleMeterRegistry());
      SearchResult tied = constant.search(query, 8);
      assertThat(tied.reranked()).isTrue();
      assertSameRanking(tied.hits().stream().map(RankedHit::hit).toList(), hnsw.subList(0, 8));
      assertThat(tied.hits()).extracting(RankedHit::iemScore).containsOnly(0.25f);
    }
  }

  /** search.rerank.first-stage-weight: the re-ranked order blends min-max scaled logits and first-stage scores. */
  @Test
  void aFirstStageWeightBlendsTheLogitWithTheFirstStageScore(@TempDir Path dir, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int d = embedder.info().dimension();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      Map<String, float[]> vectors = fill(index, random, 200);
      String query = randomQuery(random);
      float[] q = embedder.embed(query);
      List<Hit> hnsw = index.search(q, 30);
      SearchConfig vector = SearchConfig.DEFAULTS.withMode(RetrievalMode.VECTOR).withRerankDepth(30);
      IssuedQueries issued = new IssuedQueries(IssuedQueries.Policy.defaults());
      // −(1 + q·p) reverses the HNSW order; the first stage alone (w = 1) restores it.
      SearchService restored = new SearchService(index, embedder, IemHeads.negatedSimilarity(d),
          vector.withRerankFirstStageWeight(1), new SimpleMeterRegistry(), null, issued);
      SearchResult result = restored.search(query, 10);
      assertThat(result.reranked()).isTrue();
      assertThat(result.hits()).extracting(RankedHit::firstStageRank).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
      assertThat(result.hits().get(0).score()).isEqualTo(1f);

      for (int round = 0; round < Randomized.atLeast(5); round++) {
        double w = random.nextDouble();
        IemHead iem = IemHeads.random(random, Input.CONCAT, d, 16);
        SearchResult blended = new SearchService(index, embedder, iem, vector.withRerankFirstStageWeight(w),
            new SimpleMeterRegistry(), null, issued).search(query, 10);
        // The oracle, from the HNSW top 30 and the head itself.
        double[] logit = new double[hnsw.size()];
        double[] stage = new double[hnsw.size()];
        for (int i = 0; i < hnsw.size(); i++) {
          logit[i] = iem.logit(q, vectors.get(hnsw.get(i).passageId()), Branch.ASYMMETRIC);
          stage[i] = hnsw.get(i).score();
        }
        double lMin = java.util.Arrays.stream(logit).min().orElseThrow();
        double lMax = java.util.Arrays.stream(logit).max().orElseThrow();
        double sMin = java.util.Arrays.stream(stage).min().orElseThrow();
        double sMax = java.util.Arrays.stream(stage).max().orElseThrow();
        for (int i = 0; i < blended.hits().size(); i++) {
          RankedHit hit = blended.hits().get(i);
          int at = hit.firstStageRank() - 1;
          double want = (1 - w) * (logit[at] - lMin) / (lMax - lMin) + w * (stage[at] - sMin) / (sMax - sMin);
          assertThat((double) hit.score()).as("w " + w + ", position " + i).isCloseTo(want, within(1e-4));
          assertThat((double) hit.iemScore()).isCloseTo(logit[at], within(1e-4 * Math.max(1, Math.abs(logit[at]))));
          if (i > 0) {
            assertThat(hit.score()).isLessThanOrEqualTo(blended.hits().get(i - 1).score() + 1e-6f);
          }
        }
      }
    }
  }

  @Test
  void refusesAnIemOfAnotherDimensionAndADepthOutOfRange(@TempDir Path dir) {
    Random random = new Random(1);
    int d = embedder.info().dimension();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      assertThatThrownBy(() -> new SearchService(index, embedder, IemHeads.random(random, Input.CONCAT, d + 1, 8), 100,
          registry, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension");
      assertThatThrownBy(() -> new SearchService(index, embedder, IemHeads.constant(d), 0, registry, null))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rerankDepth");
      assertThatThrownBy(() -> new SearchService(index, embedder, null, PassageIndex.MAX_K + 1, registry, null))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rerankDepth");
    }
  }

  /** A service whose first stage is the HNSW search alone, ordered by the logit alone when re-ranked. */
  private static SearchService vectorSearch(PassageIndex index, IemHead iem, int depth, MeterRegistry registry) {
    return new SearchService(index, embedder, iem, SearchConfig.DEFAULTS.withMode(RetrievalMode.VECTOR)
        .withRerankDepth(depth).withRerankFirstStageWeight(0), registry, null,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
  }

  private static Timer rerankTimer(MeterRegistry registry) {
    return registry.get("d2search.search.stage").tag("stage", "rerank").timer();
  }
}
