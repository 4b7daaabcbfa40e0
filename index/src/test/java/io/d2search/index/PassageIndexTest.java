package io.d2search.index;

import io.d2search.testkit.Randomized;
import static io.d2search.testkit.Randomized.atLeast;
import static io.d2search.testkit.Randomized.unitVector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.PassageId;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class PassageIndexTest {
  private static final Logger log = LoggerFactory.getLogger(PassageIndexTest.class);
  private static final String VERSION = "0";
  private static final int DIM = 64;
  private static final TopicPartition P0 = new TopicPartition("embeddings", 0);
  private static final TopicPartition P1 = new TopicPartition("embeddings", 1);

  @TempDir Path dir;

  private PassageIndex open() {
    return open(IndexConfig.defaults());
  }

  private PassageIndex open(IndexConfig config) {
    return PassageIndex.open(dir, VERSION, config);
  }

  private static PassageEmbedding embedding(String docId, int n, float[] v) {
    return Embeddings.of(docId, n, VERSION, v, "text of " + docId + "#" + n);
  }

  @ParameterizedTest
  @EnumSource(VectorEncoding.class)
  void hnswRecallAgainstBruteForceAfterBulkLoadAndAfterChurn(VectorEncoding encoding, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    int n = atLeast(3000);
    Map<String, float[]> vectors = new LinkedHashMap<>();
    // Quantized graphs re-score oversample × ef-search candidates with the floats: recall stays close to float32's.
    double floor = encoding.quantized() ? 0.85 : 0.9;
    try (PassageIndex index = open(IndexConfig.defaults().withVectors(encoding, 3))) {
      for (int i = 0; i < n; i++) {
        float[] v = unitVector(random, DIM);
        vectors.put("d" + i + "#0", v);
        index.upsert("d" + i + "#0", embedding("d" + i, 0, v));
      }
      index.refresh();
      assertThat(index.size()).isEqualTo(n);
      double bulk = recallAt10(index, random);
      log.info("HNSW ({}) recall@10 after a bulk load of {} vectors: {}; vector files {}", encoding, n, bulk,
          index.vectorBytes());
      // The floats are always there; a quantized graph compares its own, smaller copies.
      Map<String, Long> files = index.vectorBytes();
      assertThat(files.get("vec")).isGreaterThanOrEqualTo((long) n * DIM * Float.BYTES);
      assertThat(files.get("vex")).isPositive();
      if (encoding.quantized()) {
        assertThat(files.get("veq")).isPositive().isLessThan(files.get("vec"));
      } else {
        assertThat(files).doesNotContainKey("veq");
      }
      assertThat(bulk).isGreaterThanOrEqualTo(floor);

      // Churn: replace a third, delete a third; Lucene filters deleted docs, the graph keeps them until merges.
      List<String> ids = new ArrayList<>(vectors.keySet());
      for (int i = 0; i < ids.size(); i++) {
        String id = ids.get(i);
        if (i % 3 == 0) {
          float[] v = unitVector(random, DIM);
          vectors.put(id, v);
          index.upsert(id, embedding(id.substring(0, id.indexOf('#')), 0, v));
        } else if (i % 3 == 1) {
          vectors.remove(id);
          index.delete(id);
        }
      }
      index.refresh();
      assertThat(index.size()).isEqualTo(vectors.size());
      double churned = recallAt10(index, random);
      log.info("HNSW ({}) recall@10 after updating and deleting a third each: {}", encoding, churned);
      assertThat(churned).isGreaterThanOrEqualTo(floor);
    }
  }

  /** Mean recall@10 of HNSW against brute force over random queries; also checks both are well-formed. */
  private static double recallAt10(PassageIndex index, Random random) {
    int queries = atLeast(50);
    double recall = 0;
    for (int q = 0; q < queries; q++) {
      float[] query = unitVector(random, DIM);
      List<Hit> approximate = index.search(query, 10);
      List<Hit> exact = index.searchExact(query, 10);
      assertThat(approximate).hasSize(10);
      assertThat(exact).hasSize(10);
      assertNonIncreasing(approximate);
      assertNonIncreasing(exact);
      Set<String> truth = new HashSet<>();
      exact.forEach(h -> truth.add(h.passageId()));
      recall += approximate.stream().filter(h -> truth.contains(h.passageId())).count() / 10.0;
    }
    return recall / queries;
  }

  private static void assertNonIncreasing(List<Hit> hits) {
    for (int i = 1; i < hits.size(); i++) {
      assertThat(hits.get(i).score()).isLessThanOrEqualTo(hits.get(i - 1).score());
    }
    hits.forEach(h -> assertThat(h.score()).isBetween(0f, 1f));
  }

  @Test
  void returnsMinOfKAndSizeHits(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      for (int round = 0; round < atLeast(10); round++) {
        int size = index.size();
        int k = 1 + random.nextInt(40);
        float[] query = unitVector(random, DIM);
        List<Hit> approximate = index.search(query, k);
        List<Hit> exact = index.searchExact(query, k);
        assertThat(approximate).hasSize(Math.min(k, size));
        assertThat(exact).hasSize(Math.min(k, size));
        assertNonIncreasing(approximate);
        assertNonIncreasing(exact);
        int more = random.nextInt(8);
        for (int i = 0; i < more; i++) {
          index.upsert("r" + round + "-" + i + "#0", embedding("r" + round + "-" + i, 0, unitVector(random, DIM)));
        }
        index.refresh();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(VectorEncoding.class)
  void vectorsReadBackAreTheUpsertedOnesAcrossSegmentsUpdatesAndDeletes(VectorEncoding encoding, TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    Map<String, float[]> upserted = new HashMap<>();
    try (PassageIndex index = open(IndexConfig.defaults().withVectors(encoding, 3))) {
      // Several flushes (one segment each), then updates and deletes, so hits span segments with deleted docs.
      for (int batch = 0; batch < 4; batch++) {
        for (int i = 0; i < atLeast(60); i++) {
          String id = "b" + batch + "-" + i + "#0";
          float[] v = unitVector(random, DIM);
          upserted.put(id, v);
          index.upsert(id, embedding(id.substring(0, id.indexOf('#')), 0, v));
        }
        index.refresh();
      }
      List<String> ids = new ArrayList<>(upserted.keySet());
      for (int i = 0; i < ids.size(); i += 5) {
        String id = ids.get(i);
        if (random.nextBoolean()) {
          float[] v = unitVector(random, DIM);
          upserted.put(id, v);
          index.upsert(id, embedding(id.substring(0, id.indexOf('#')), 0, v));
        } else {
          upserted.remove(id);
          index.delete(id);
        }
      }
      index.refresh();
      // By id too: every live passage's vector as given, none for a deleted one.
      for (String id : ids) {
        if (upserted.containsKey(id)) {
          assertThat(index.vector(id)).as(id).hasValueSatisfying(v -> assertThat(v).containsExactly(upserted.get(id)));
        } else {
          assertThat(index.vector(id)).as(id).isEmpty();
        }
      }
      assertThat(index.vector("never#0")).isEmpty();
      for (int q = 0; q < atLeast(20); q++) {
        float[] query = unitVector(random, DIM);
        int k = 1 + random.nextInt(120);
        try (PassageSearcher searcher = index.searcher()) {
          List<PassageSearcher.Candidate> candidates = searcher.search(query, k);
          assertThat(candidates).hasSize(Math.min(k, upserted.size()));
          List<Hit> hits = searcher.hits(candidates);
          HitAssertions.assertSameRanking(hits, index.search(query, k));
          // Shuffled, so the reader has to find each doc's segment in whatever order the caller asks.
          List<Integer> order = new ArrayList<>();
          for (int i = 0; i < candidates.size(); i++) {
            order.add(i);
          }
          Collections.shuffle(order, random);
          List<float[]> vectors = searcher.vectors(order.stream().map(candidates::get).toList());
          for (int i = 0; i < order.size(); i++) {
            Hit hit = hits.get(order.get(i));
            // Bit for bit: the index keeps the floats it was given (no renormalisation; quantized encodings keep
            // them beside their own), and scores are theirs.
            assertThat(vectors.get(i)).as(hit.passageId()).containsExactly(upserted.get(hit.passageId()));
            float dot = 0;
            for (int c = 0; c < DIM; c++) {
              dot += query[c] * vectors.get(i)[c];
            }
            assertThat(hit.score()).isCloseTo((1 + dot) / 2, within(1e-5f));
          }
        }
      }
    }
  }

  @Test
  void searcherRefusesForeignCandidatesAndUseAfterClose(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      float[] a = unitVector(random, DIM);
      index.upsert("a#0", embedding("a", 0, a));
      index.refresh();
      PassageSearcher searcher = index.searcher();
      List<PassageSearcher.Candidate> top = searcher.search(a, 1);
      assertThat(searcher.vectors(List.of(top.get(0), top.get(0)))).hasSize(2)
          .allSatisfy(v -> assertThat(v).containsExactly(a));
      assertThat(searcher.vectors(List.of())).isEmpty();
      PassageSearcher.Candidate foreign = new PassageSearcher.Candidate(7, 0.5f);
      assertThatThrownBy(() -> searcher.vectors(List.of(foreign))).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> searcher.hits(List.of(foreign))).isInstanceOf(IllegalArgumentException.class);
      searcher.close();
      searcher.close();
      assertThatThrownBy(() -> searcher.search(a, 1)).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> searcher.vectors(top)).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void scoreIsHalfOfOnePlusDotProduct() {
    float[] x = {1, 0, 0};
    float[] y = {0, 1, 0};
    float[] minusX = {-1, 0, 0};
    try (PassageIndex index = open()) {
      index.upsert("x#0", embedding("x", 0, x));
      index.upsert("y#0", embedding("y", 0, y));
      index.upsert("z#0", embedding("z", 0, minusX));
      index.refresh();
      List<Hit> hits = index.searchExact(x, 3);
      assertThat(hits).extracting(Hit::passageId).containsExactly("x#0", "y#0", "z#0");
      assertThat(hits).extracting(Hit::score).containsExactly(1f, 0.5f, 0f);
      assertThat(index.search(x, 3)).isEqualTo(hits);
      Hit top = hits.get(0);
      assertThat(top.docId()).isEqualTo("x");
      assertThat(top.n()).isZero();
      assertThat(top.title()).isEqualTo("title of x");
      assertThat(top.text()).isEqualTo("text of x#0");
      assertThat(top.url()).isEqualTo("https://example.org/x");
    }
  }

  @Test
  void upsertTwiceKeepsOneDocumentWithTheLatestValue(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      index.upsert("a#1", Embeddings.of("a", 1, VERSION, unitVector(random, DIM), "first"));
      index.upsert("a#1", Embeddings.of("a", 1, VERSION, unitVector(random, DIM), "second"));
      index.refresh();
      assertThat(index.size()).isEqualTo(1);
      assertThat(index.get("a#1")).get().extracting(StoredPassage::text).isEqualTo("second");
    }
  }

  @Test
  void forEachPassageVisitsEveryLivePassageOnceAfterUpdatesAndDeletes(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      java.util.Map<String, String> truth = new java.util.TreeMap<>();
      for (int i = 0; i < 50; i++) {
        String id = "d" + random.nextInt(20) + "#" + random.nextInt(3);
        if (random.nextInt(4) == 0) {
          index.delete(id);
          truth.remove(id);
        } else {
          String text = "text " + i;
          PassageId pid = PassageId.parse(id);
          index.upsert(id, Embeddings.of(pid.docId(), pid.n(), VERSION, unitVector(random, DIM), text));
          truth.put(id, text);
        }
        if (random.nextInt(10) == 0) {
          index.commit(java.util.Map.of());
        }
      }
      index.refresh();
      java.util.Map<String, String> seen = new java.util.TreeMap<>();
      index.forEachPassage(p -> assertThat(seen.put(p.passageId(), p.text())).as("once: %s", p.passageId()).isNull());
      assertThat(seen).isEqualTo(truth);
    }
  }

  @Test
  void deleteRemovesAndDeletingAMissingPassageIsANoOp(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      index.upsert("a#0", embedding("a", 0, unitVector(random, DIM)));
      index.upsert("b#0", embedding("b", 0, unitVector(random, DIM)));
      index.delete("a#0");
      index.delete("never#0");
      index.refresh();
      assertThat(index.size()).isEqualTo(1);
      assertThat(index.get("a#0")).isEmpty();
      assertThat(index.search(unitVector(random, DIM), 10)).extracting(Hit::passageId).containsExactly("b#0");
    }
  }

  @Test
  void changesBecomeVisibleOnRefresh(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      index.upsert("a#0", embedding("a", 0, unitVector(random, DIM)));
      assertThat(index.size()).isZero();
      index.refresh();
      assertThat(index.size()).isEqualTo(1);
    }
  }

  @Test
  void offsetsSurviveCloseAndReopenAndMergePerPartition(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      assertThat(index.committedOffsets()).isEmpty();
      index.upsert("a#0", embedding("a", 0, unitVector(random, DIM)));
      index.commit(Map.of(P0, 7L, P1, 3L));
      index.commit(Map.of(P1, 5L));
      assertThat(index.committedOffsets()).containsExactlyInAnyOrderEntriesOf(Map.of(P0, 7L, P1, 5L));
    }
    try (PassageIndex index = open()) {
      assertThat(index.committedOffsets()).containsExactlyInAnyOrderEntriesOf(Map.of(P0, 7L, P1, 5L));
      assertThat(index.size()).isEqualTo(1);
    }
  }

  @Test
  void closeDiscardsUncommittedChanges(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      index.upsert("a#0", embedding("a", 0, unitVector(random, DIM)));
      index.commit(Map.of(P0, 1L));
      index.upsert("b#0", embedding("b", 0, unitVector(random, DIM)));
      index.refresh();
      assertThat(index.size()).isEqualTo(2);
    }
    try (PassageIndex index = open()) {
      assertThat(index.size()).isEqualTo(1);
      assertThat(index.get("b#0")).isEmpty();
      assertThat(index.committedOffsets()).containsExactlyEntriesOf(Map.of(P0, 1L));
    }
  }

  /** One record of a simulated {@code embeddings} partition: a tombstone when {@code embedding} is null. */
  private record Op(String key, PassageEmbedding embedding) {}

  private static void apply(PassageIndex index, Op op) {
    if (op.embedding() == null) {
      index.delete(op.key());
    } else {
      index.upsert(op.key(), op.embedding());
    }
  }

  @Test
  void replayFromTheLastCommitAfterACrashGivesTheSameIndex(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    // A log of upserts, updates and tombstones over a small key space, so keys repeat.
    int keys = atLeast(60);
    List<Op> log = new ArrayList<>();
    Map<String, PassageEmbedding> expected = new HashMap<>();
    for (int i = 0; i < atLeast(400); i++) {
      int doc = random.nextInt(keys);
      String key = "doc" + doc + "#" + (doc % 3);
      PassageEmbedding value = random.nextInt(5) == 0 ? null
          : Embeddings.of("doc" + doc, doc % 3, VERSION, unitVector(random, DIM), "text " + i);
      log.add(new Op(key, value));
      if (value == null) {
        expected.remove(key);
      } else {
        expected.put(key, value);
      }
    }
    int committedAt = random.nextInt(log.size());
    int crashedAt = committedAt + random.nextInt(log.size() - committedAt + 1);
    try (PassageIndex index = open()) {
      for (int offset = 0; offset < crashedAt; offset++) {
        apply(index, log.get(offset));
        if (offset + 1 == committedAt) {
          index.commit(Map.of(P0, (long) committedAt));
        }
      }
      index.refresh(); // searchable but never committed: lost in the "crash"
    }
    try (PassageIndex index = open()) {
      long resumeAt = index.committedOffsets().getOrDefault(P0, 0L);
      assertThat(resumeAt).isEqualTo(committedAt);
      for (long offset = resumeAt; offset < log.size(); offset++) {
        apply(index, log.get((int) offset));
      }
      index.commit(Map.of(P0, (long) log.size()));
      index.refresh();
      assertThat(index.size()).as("no duplicates, no gaps").isEqualTo(expected.size());
      expected.forEach((key, value) -> assertThat(index.get(key)).get()
          .extracting(StoredPassage::textHash).isEqualTo(value.getTextHash()));
      log.stream().map(Op::key).filter(k -> !expected.containsKey(k))
          .forEach(k -> assertThat(index.get(k)).as(k).isEmpty());
    }
  }

  @Test
  void refusesAnotherModelVersion(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      PassageEmbedding other = Embeddings.of("a", 0, "1", unitVector(random, DIM), "t");
      assertThatThrownBy(() -> index.upsert("a#0", other))
          .isInstanceOf(ModelVersionMismatchException.class)
          .hasMessageContaining("one index per model version");
    }
    assertThatThrownBy(() -> PassageIndex.open(dir, "1", IndexConfig.defaults()))
        .isInstanceOf(ModelVersionMismatchException.class);
  }

  /**
   * Hybrid retrieval changed what a passage document holds (a BM25 field, attribute fields): an index of the format
   * before, or indexed by other attribute types, is emptied on open, with no offsets, so the materialiser replays
   * the embeddings topic into the new format instead of serving a keyword search that finds nothing.
   */
  @Test
  void anIndexOfAnOlderFormatOrOtherAttributeTypesIsRebuiltFromTheTopic(TestInfo test) throws Exception {
    Random random = Randomized.random(test.getDisplayName());
    // Format 1, as written before: model version and offsets only.
    try (org.apache.lucene.store.Directory d = org.apache.lucene.store.FSDirectory.open(dir);
        org.apache.lucene.index.IndexWriter w = new org.apache.lucene.index.IndexWriter(d,
            new org.apache.lucene.index.IndexWriterConfig())) {
      org.apache.lucene.document.Document doc = new org.apache.lucene.document.Document();
      doc.add(new org.apache.lucene.document.StringField(PassageIndex.ID, "old#0",
          org.apache.lucene.document.Field.Store.YES));
      w.addDocument(doc);
      w.setLiveCommitData(Map.of(PassageIndex.MODEL_VERSION_KEY, VERSION, "offset:embeddings:0", "42").entrySet());
      w.commit();
    }
    try (PassageIndex index = open()) {
      assertThat(index.size()).isZero();
      assertThat(index.committedOffsets()).as("replays from the start").isEmpty();
      index.upsert("a#0", embedding("a", 0, unitVector(random, DIM)));
      index.commit(Map.of(P0, 7L));
      index.refresh();
      try (PassageSearcher s = index.searcher()) {
        assertThat(s.hits(s.keyword("text of a", 10, Filter.NONE))).extracting(Hit::passageId).containsExactly("a#0");
      }
    }
    // The same format and types: kept.
    try (PassageIndex index = open()) {
      assertThat(index.size()).isEqualTo(1);
      assertThat(index.committedOffsets()).containsEntry(P0, 7L);
    }
    // Another declaration of attribute types: rebuilt.
    try (PassageIndex index = PassageIndex.open(dir, VERSION, IndexConfig.defaults().withAttributes(
        io.d2search.schemas.AttributeSchema.parse("year:long")))) {
      assertThat(index.size()).isZero();
      assertThat(index.committedOffsets()).isEmpty();
    }
  }

  @Test
  void rejectsBadArguments(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      float[] q = unitVector(random, DIM);
      index.upsert("a#0", embedding("a", 0, q));
      index.refresh();
      assertThatThrownBy(() -> index.search(q, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k");
      assertThatThrownBy(() -> index.searchExact(q, PassageIndex.MAX_K + 1)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> index.search(new float[DIM], 1)).hasMessageContaining("unit length");
      assertThatThrownBy(() -> index.search(unitVector(random, DIM + 1), 1)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> index.searchExact(unitVector(random, DIM + 1), 1)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> index.upsert("b#1", embedding("b", 0, q))).hasMessageContaining("does not match");
      float[] notUnit = q.clone();
      notUnit[0] += 0.5f;
      assertThatThrownBy(() -> index.upsert("c#0", embedding("c", 0, notUnit))).hasMessageContaining("unit length");
      assertThatThrownBy(() -> index.upsert("d#0", embedding("d", 0, unitVector(random, DIM + 1))))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> index.commit(Map.of(P0, -1L))).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void queryVectorIsCopied(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    try (PassageIndex index = open()) {
      float[] a = unitVector(random, DIM);
      index.upsert("a#0", embedding("a", 0, a));
      index.refresh();
      float[] query = a.clone();
      index.search(query, 1);
      assertThat(query).containsExactly(a);
    }
  }

  @Test
  void customHnswParametersWriteAnIndexTheDefaultsRead(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    float[] a = unitVector(random, DIM);
    try (PassageIndex index = PassageIndex.open(dir, VERSION, IndexConfig.defaults().withHnsw(8, 32).withEfSearch(20))) {
      for (int i = 0; i < 50; i++) {
        index.upsert("d" + i + "#0", embedding("d" + i, 0, i == 0 ? a : unitVector(random, DIM)));
      }
      index.commit(Map.of(P0, 50L));
    }
    try (PassageIndex index = open()) {
      assertThat(index.search(a, 1)).extracting(Hit::passageId).containsExactly("d0#0");
    }
  }

  @Test
  void anIndexWrittenQuantizedReadsBackUnderAnotherEncodingAndTakesNewPassagesInIt(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    VectorEncoding[] encodings = VectorEncoding.values();
    VectorEncoding first = encodings[1 + random.nextInt(encodings.length - 1)];
    VectorEncoding second = encodings[random.nextInt(encodings.length)];
    Map<String, float[]> upserted = new HashMap<>();
    try (PassageIndex index = open(IndexConfig.defaults().withVectors(first, 3))) {
      upsertRandom(index, 0, 80, upserted, random);
      index.commit(Map.of(P0, 80L));
    }
    try (PassageIndex index = open(IndexConfig.defaults().withVectors(second, 3))) {
      upsertRandom(index, 80, 160, upserted, random);
      index.commit(Map.of(P0, 160L));
      index.refresh();
      upserted.forEach((id, v) -> {
        assertThat(index.vector(id)).as(first + " then " + second + ": " + id)
            .hasValueSatisfying(read -> assertThat(read).containsExactly(v));
        assertThat(index.search(v, 1)).as(id).extracting(Hit::passageId).containsExactly(id);
      });
    }
  }

  /** Upserts passages d{from}#0 … d{to - 1}#0 with random unit vectors, remembering them. */
  private static void upsertRandom(PassageIndex index, int from, int to, Map<String, float[]> upserted,
      Random random) {
    for (int i = from; i < to; i++) {
      float[] v = unitVector(random, DIM);
      upserted.put("d" + i + "#0", v);
      index.upsert("d" + i + "#0", embedding("d" + i, 0, v));
    }
  }
}
