package io.d2search.eval;

import io.d2search.embed.Embedder;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.Hit;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Dense retrieval through the query-service's own {@link PassageIndex} (Lucene HNSW), built in a temporary
 * directory from precomputed vectors; deleted on close. Documents are scored as their best passage.
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

  /** Indexes the passages with their vectors (same order) into a fresh HNSW graph. */
  public static HnswDenseRetriever build(String name, Embedder embedder, List<EvalPassage> passages,
      float[][] vectors, int hnswM, int beamWidth) {
    Path dir;
    try {
      dir = Files.createTempDirectory("d2search-eval-hnsw");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String version = embedder.info().version();
    PassageIndex index = PassageIndex.open(dir, version, IndexConfig.defaults().withHnsw(hnswM, beamWidth));
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
    List<Hit> hits = index.search(queryVector, Math.min(PassageIndex.MAX_K, k * Math.min(passagesPerDoc * 2, 10)));
    TopDocs top = new TopDocs();
    for (Hit h : hits) {
      top.offer(h.docId(), h.score());
    }
    return top.top(k);
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
