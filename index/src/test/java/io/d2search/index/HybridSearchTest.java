package io.d2search.index;

import static io.d2search.testkit.Randomized.atLeast;
import static io.d2search.testkit.Randomized.unitVector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.events.PassageEmbedding;
import io.d2search.index.FirstStageHit.StageScore;
import io.d2search.index.PassageSearcher.Candidate;
import io.d2search.schemas.AttributeSchema;
import io.d2search.testkit.Randomized;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first stage's parts against oracles computed apart from them: filtered HNSW against brute force over the
 * passages a predicate (not Lucene) selects, the fusion against RRF and min-max arithmetic done here, keyword search
 * against the words each passage was given.
 */
class HybridSearchTest {
  private static final String VERSION = "0";
  private static final int DIM = 32;
  private static final List<String> LANGS = List.of("en", "de", "fr", "es");
  private static final List<String> WORDS = List.of("protein", "cell", "membrane", "virus", "gene", "enzyme",
      "tumour", "neuron", "insulin", "bacteria", "vaccine", "receptor");
  private static final AttributeSchema SCHEMA = AttributeSchema.parse("year:long,score:double,published:date");

  @TempDir Path dir;

  /** One passage's attributes, as the oracle reads them. */
  private record Attrs(String lang, long year, double score, long publishedMs) {}

  private static Map<String, Attrs> fill(PassageIndex index, Random random, int n, Map<String, float[]> vectors,
      Map<String, Set<String>> words) {
    Map<String, Attrs> attrs = new HashMap<>();
    for (int i = 0; i < n; i++) {
      String id = "d" + i + "#0";
      float[] v = unitVector(random, DIM);
      Set<String> own = new HashSet<>();
      StringBuilder text = new StringBuilder();
      for (int w = 0; w < 1 + random.nextInt(4); w++) {
        String word = WORDS.get(random.nextInt(WORDS.size()));
        own.add(word);
        text.append(word).append(' ');
      }
      Attrs a = new Attrs(LANGS.get(random.nextInt(LANGS.size())), 1990 + random.nextInt(35),
          Math.round(random.nextDouble() * 1000) / 100.0, 1_600_000_000_000L + random.nextInt(1_000_000) * 1000L);
      PassageEmbedding e = Embeddings.of("d" + i, 0, VERSION, v, text.toString().strip());
      e.setTitle(null);
      e.setAttributes(Map.of("lang", a.lang(), "year", Long.toString(a.year()), "score", Double.toString(a.score()),
          "published", java.time.Instant.ofEpochMilli(a.publishedMs()).toString()));
      index.upsert(id, e);
      vectors.put(id, v);
      words.put(id, own);
      attrs.put(id, a);
      if (i % 97 == 0) {
        index.refresh(); // several segments
      }
    }
    index.refresh();
    return attrs;
  }

  /** A random filter and the predicate that says, without Lucene, which passages meet it. */
  private record RandomFilter(Filter filter, Predicate<Attrs> matches) {}

  private static RandomFilter randomFilter(Random random) {
    List<Filter.Condition> conditions = new ArrayList<>();
    Predicate<Attrs> matches = a -> true;
    if (random.nextBoolean()) {
      List<String> langs = new ArrayList<>(LANGS.subList(0, 1 + random.nextInt(2)));
      conditions.add(new Filter.AnyOf("lang", langs));
      matches = matches.and(a -> langs.contains(a.lang()));
    }
    if (random.nextBoolean() || conditions.isEmpty()) {
      long lo = 1990 + random.nextInt(35);
      long hi = lo + random.nextInt(10);
      boolean loIn = random.nextBoolean();
      boolean hiIn = random.nextBoolean();
      conditions.add(new Filter.Range("year", Long.toString(lo), loIn, Long.toString(hi), hiIn));
      matches = matches.and(a -> (loIn ? a.year() >= lo : a.year() > lo) && (hiIn ? a.year() <= hi : a.year() < hi));
    }
    if (random.nextInt(3) == 0) {
      double lo = random.nextInt(800) / 100.0;
      conditions.add(new Filter.Range("score", Double.toString(lo), false, null, false));
      matches = matches.and(a -> a.score() > lo);
    }
    if (random.nextInt(4) == 0) {
      long before = 1_600_000_000_000L + random.nextInt(1_000_000) * 1000L;
      conditions.add(new Filter.Range("published", null, false, java.time.Instant.ofEpochMilli(before).toString(),
          true));
      matches = matches.and(a -> a.publishedMs() <= before);
    }
    return new RandomFilter(new Filter(conditions), matches);
  }

  @Test
  void filteredHnswEqualsExactSearchOverTheMatchingPassages(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    Map<String, float[]> vectors = new HashMap<>();
    try (PassageIndex index = PassageIndex.open(dir, VERSION, IndexConfig.defaults().withAttributes(SCHEMA))) {
      Map<String, Attrs> attrs = fill(index, random, atLeast(400), vectors, new HashMap<>());
      for (int round = 0; round < atLeast(30); round++) {
        RandomFilter f = randomFilter(random);
        float[] q = unitVector(random, DIM);
        int k = 1 + random.nextInt(20);
        // The oracle: brute force over the passages the predicate keeps.
        List<String> expected = vectors.keySet().stream().filter(id -> f.matches().test(attrs.get(id)))
            .sorted(Comparator.comparingDouble((String id) -> -dot(q, vectors.get(id))).thenComparing(id -> id))
            .limit(k).toList();
        List<Hit> exact = index.searchExact(q, k, f.filter());
        List<Hit> hnsw;
        try (PassageSearcher s = index.searcher()) {
          hnsw = s.hits(s.search(q, k, f.filter()));
        }
        String what = "round " + round + ", " + f.filter() + ", k " + k;
        // Small filtered sets are searched exactly by Lucene; on these small indexes the graph finds them all.
        assertThat(hnsw).as(what + ": k results whenever k passages match").hasSize(expected.size());
        assertThat(exact).as(what).hasSize(expected.size());
        for (int i = 0; i < expected.size(); i++) {
          float want = (1 + dot(q, vectors.get(expected.get(i)))) / 2;
          assertThat(exact.get(i).score()).as(what).isCloseTo(want, within(1e-5f));
          assertThat(hnsw.get(i).score()).as(what).isCloseTo(want, within(1e-5f));
          assertThat(f.matches().test(attrs.get(hnsw.get(i).passageId()))).as(what).isTrue();
        }
      }
    }
  }

  @Test
  void keywordSearchFindsExactlyThePassagesWithAQueryWordAndFilters(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    Map<String, Set<String>> words = new HashMap<>();
    try (PassageIndex index = PassageIndex.open(dir, VERSION, IndexConfig.defaults().withAttributes(SCHEMA))) {
      Map<String, Attrs> attrs = fill(index, random, atLeast(300), new HashMap<>(), words);
      for (int round = 0; round < atLeast(20); round++) {
        String word = WORDS.get(random.nextInt(WORDS.size()));
        RandomFilter f = random.nextBoolean() ? new RandomFilter(Filter.NONE, a -> true) : randomFilter(random);
        Set<String> expected = new HashSet<>();
        words.forEach((id, own) -> {
          if (own.contains(word) && f.matches().test(attrs.get(id))) {
            expected.add(id);
          }
        });
        List<Hit> hits;
        try (PassageSearcher s = index.searcher()) {
          // "the" is a stop word; a plural is stemmed to the indexed singular.
          String query = "the " + (word.endsWith("s") ? word : word + "s");
          hits = s.hits(s.keyword(query, PassageIndex.MAX_K, f.filter()));
        }
        assertThat(hits).extracting(Hit::passageId).as(word + " " + f.filter()).containsExactlyInAnyOrderElementsOf(
            expected);
        for (int i = 1; i < hits.size(); i++) {
          assertThat(hits.get(i).score()).isLessThanOrEqualTo(hits.get(i - 1).score());
        }
      }
      try (PassageSearcher s = index.searcher()) {
        assertThat(s.keyword("the and of", 10, Filter.NONE)).as("stop words alone").isEmpty();
        StringBuilder huge = new StringBuilder();
        for (int i = 0; i < 1100; i++) {
          huge.append("w").append(i).append(' ');
        }
        assertThatThrownBy(() -> s.keyword(huge.toString(), 10, Filter.NONE))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("distinct terms");
        assertThatThrownBy(() -> s.keyword("cell", 10, Filter.of(new Filter.AnyOf("colour", List.of("red")))))
            .isInstanceOf(InvalidFilterException.class).hasMessageContaining("unknown attribute 'colour'");
        assertThatThrownBy(() -> s.keyword("cell", 10, Filter.of(new Filter.Range("lang", "a", true, null, false))))
            .isInstanceOf(InvalidFilterException.class).hasMessageContaining("range");
        assertThatThrownBy(() -> s.search(new float[DIM], 10, Filter.of(new Filter.AnyOf("year", List.of("x")))))
            .isInstanceOf(IllegalArgumentException.class);
      }
    }
  }

  @Test
  void fusionIsRrfOrMinMaxArithmeticOverTheTwoLists(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    for (int round = 0; round < atLeast(200); round++) {
      List<Candidate> vector = randomList(random, 0.5f, 1f);
      List<Candidate> keyword = randomList(random, 0f, 25f);
      int k = 1 + random.nextInt(60);
      float wv = random.nextInt(4) == 0 ? 0 : random.nextFloat() * 2;
      float wk = wv == 0 ? 0.5f + random.nextFloat() : random.nextFloat() * 2;
      int rrfK = 1 + random.nextInt(100);
      for (Fusion.Method method : Fusion.Method.values()) {
        Fusion fusion = new Fusion(method, rrfK, wv, wk);
        List<FirstStageHit> fused = fusion.fuse(vector, keyword, k);
        Map<Integer, Double> oracle = oracle(method, rrfK, wv, wk, vector, keyword);
        assertThat(fused).hasSize(Math.min(k, oracle.size()));
        List<Double> best = oracle.values().stream().sorted(Comparator.reverseOrder()).toList();
        for (int i = 0; i < fused.size(); i++) {
          FirstStageHit h = fused.get(i);
          assertThat((double) h.score()).isCloseTo(oracle.get(h.doc()), within(1e-5));
          assertThat((double) h.score()).as("position " + i).isCloseTo(best.get(i), within(1e-5));
          assertRank(h.vector(), vector, h.doc());
          assertRank(h.keyword(), keyword, h.doc());
          String explain = fusion.explain(h, vector, keyword);
          assertThat(explain).startsWith(method == Fusion.Method.RRF ? "rrf: " : "score: ");
        }
      }
    }
  }

  private static void assertRank(StageScore s, List<Candidate> list, int doc) {
    int at = -1;
    for (int i = 0; i < list.size(); i++) {
      if (list.get(i).doc() == doc) {
        at = i;
      }
    }
    if (at < 0) {
      assertThat(s).isNull();
    } else {
      assertThat(s.rank()).isEqualTo(at + 1);
      assertThat(s.score()).isEqualTo(list.get(at).score());
    }
  }

  private static Map<Integer, Double> oracle(Fusion.Method method, int rrfK, float wv, float wk,
      List<Candidate> vector, List<Candidate> keyword) {
    Map<Integer, Double> score = new HashMap<>();
    double vMin = vector.stream().mapToDouble(Candidate::score).min().orElse(0);
    double vMax = vector.stream().mapToDouble(Candidate::score).max().orElse(0);
    double kMin = keyword.stream().mapToDouble(Candidate::score).min().orElse(0);
    double kMax = keyword.stream().mapToDouble(Candidate::score).max().orElse(0);
    for (int i = 0; i < vector.size(); i++) {
      double add = method == Fusion.Method.RRF ? wv / (double) (rrfK + i + 1)
          : wv * (vMax > vMin ? (vector.get(i).score() - vMin) / (vMax - vMin) : 1);
      score.merge(vector.get(i).doc(), add, Double::sum);
    }
    for (int i = 0; i < keyword.size(); i++) {
      double add = method == Fusion.Method.RRF ? wk / (double) (rrfK + i + 1)
          : wk * (kMax > kMin ? (keyword.get(i).score() - kMin) / (kMax - kMin) : 1);
      score.merge(keyword.get(i).doc(), add, Double::sum);
    }
    return score;
  }

  /** A retriever's list: distinct docs from a small range (so the lists overlap), scores non-increasing. */
  private static List<Candidate> randomList(Random random, float min, float max) {
    int n = random.nextInt(40);
    List<Integer> docs = new ArrayList<>();
    for (int d = 0; d < 80; d++) {
      docs.add(d);
    }
    java.util.Collections.shuffle(docs, random);
    List<Float> scores = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      scores.add(random.nextInt(5) == 0 && i > 0 ? scores.get(i - 1) : min + random.nextFloat() * (max - min));
    }
    scores.sort(Comparator.reverseOrder());
    List<Candidate> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(new Candidate(docs.get(i), scores.get(i)));
    }
    return list;
  }

  private static float dot(float[] a, float[] b) {
    float s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
