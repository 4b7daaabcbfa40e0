package io.d2search.eval;

import io.d2search.embed.Embedder;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.Hit;
import io.d2search.index.IndexConfig;
import io.d2search.index.Filter;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageRanker;
import io.d2search.index.PassageSearcher;
import io.d2search.index.RetrievalMode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Dense retrieval through the query-service's own {@link PassageIndex} (Lucene HNSW), built in a temporary
 * directory from precomputed vectors; deleted on close. Documents are scored as their best passage. The index also
 * answers keyword and hybrid searches, and re-ranks, through {@link #served}: the query service's own ranking code.
 */
public final class HnswDenseRetriever implements Retriever, AutoCloseable {
  private final String name;
  private final Embedder embedder;
  private final Path dir;
  private final PassageIndex index;
  private final int passagesPerDoc;

  private HnswDenseRetriever(String name, Embedder embedder, Path dir, PassageIndex index, int passagesPerDoc) {
    this.name = name;
    this.embedder = embedder;
    this.dir = dir;
    this.index = index;
    this.passagesPerDoc = passagesPerDoc;
  }

  /** Indexes the passages with their vectors (same order) into a fresh HNSW graph of the default encoding. */
  public static HnswDenseRetriever build(String name, Embedder embedder, List<EvalPassage> passages,
      float[][] vectors, int hnswM, int beamWidth) {
    return build(name, embedder, passages, vectors, IndexConfig.defaults().withHnsw(hnswM, beamWidth));
  }

  /** Indexes the passages with their vectors (same order) into a fresh index built and searched as configured. */
  public static HnswDenseRetriever build(String name, Embedder embedder, List<EvalPassage> passages,
      float[][] vectors, IndexConfig config) {
    Path dir;
    try {
      dir = Files.createTempDirectory("d2search-eval-hnsw");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String version = embedder.info().version();
    PassageIndex index = PassageIndex.open(dir, version, config);
    for (int i = 0; i < passages.size(); i++) {
      EvalPassage p = passages.get(i);
      float[] v = vectors[i];
      List<Float> vector = new java.util.ArrayList<>(v.length);
      for (float x : v) {
        vector.add(x);
      }
      index.upsert(p.passageId(), PassageEmbedding.newBuilder().setDocId(p.docId()).setN(p.n())
          .setModelVersion(version).setVector(vector).setTextHash("").setTitle(p.title()).setText(p.text())
          .setDocVersion(0).setUrl(null).build());
    }
    index.commit(Map.of());
    index.refresh();
    long docs = passages.stream().map(EvalPassage::docId).distinct().count();
    int perDoc = (int) Math.ceil((double) passages.size() / Math.max(1, docs));
    return new HnswDenseRetriever(name, embedder, dir, index, perDoc);
  }

  /** Embeds the query as the index's passages were embedded. */
  public float[] embed(String query) {
    return embedder.embed(query);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    return search(embedder.embed(query), k);
  }

  /** The top k documents for an already embedded query (by this retriever's embedder). */
  public List<ScoredDoc> search(float[] queryVector, int k) {
    // Ask for enough passages that about k distinct documents remain after keeping each one's best.
    List<Hit> hits = index.search(queryVector, passagesFor(k));
    TopDocs top = new TopDocs();
    for (Hit h : hits) {
      top.offer(h.docId(), h.score());
    }
    return top.top(k);
  }

  /**
   * A retriever that ranks as the query service does: the {@link PassageRanker} over this index (the first stage of
   * {@code mode}, then the IEM when {@code rerank} and the ranker has one), each document listed where its first
   * passage falls in that order, i.e. at its best passage.
   */
  public Retriever served(String label, PassageRanker ranker, RetrievalMode mode, boolean rerank) {
    return new Retriever() {
      @Override
      public String name() {
        return label;
      }

      @Override
      public List<ScoredDoc> search(String query, int k) {
        PassageRanker.Query ask = new PassageRanker.Query(query, null, mode, passagesFor(k), Filter.NONE, rerank);
        if (ask.needsVector(ranker)) {
          ask = ask.withVector(embedder.embed(query));
        }
        try (PassageSearcher searcher = index.searcher()) {
          PassageRanker.Ranking ranking = ranker.rank(searcher, ask);
          List<Hit> hits = searcher.hits(ranking.candidates());
          List<ScoredDoc> top = new ArrayList<>(k);
          Set<String> seen = new HashSet<>();
          for (Hit hit : hits) {
            if (top.size() == k) {
              break;
            }
            if (seen.add(hit.docId())) { // the ranking is best first: a document's first passage is its best
              top.add(new ScoredDoc(hit.docId(), hit.score()));
            }
          }
          return top;
        }
      }
    };
  }

  /** Passages to ask for so that about k distinct documents remain after keeping each one's best. */
  private int passagesFor(int k) {
    return Math.min(PassageIndex.MAX_K, k * Math.min(passagesPerDoc * 2, 10));
  }

  @Override
  public void close() throws IOException {
    index.close();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
