package io.d2search.eval;

import io.d2search.embed.Embedder;
import java.util.List;

/**
 * Brute-force dense retrieval: the query vector against every passage vector (dot product of unit vectors =
 * cosine). The reference the HNSW index is measured against.
 */
public final class ExactDenseRetriever implements Retriever {
  private final String name;
  private final Embedder embedder;
  private final List<EvalPassage> passages;
  private final float[][] vectors;

  /** @param vectors unit vector of each passage, same order as {@code passages} */
  public ExactDenseRetriever(String name, Embedder embedder, List<EvalPassage> passages, float[][] vectors) {
    if (passages.size() != vectors.length) {
      throw new IllegalArgumentException(passages.size() + " passages but " + vectors.length + " vectors");
    }
    this.name = name;
    this.embedder = embedder;
    this.passages = passages;
    this.vectors = vectors;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    float[] q = embedder.embed(query);
    TopDocs top = new TopDocs();
    for (int i = 0; i < vectors.length; i++) {
      top.offer(passages.get(i).docId(), org.apache.lucene.util.VectorUtil.dotProduct(q, vectors[i]));
    }
    return top.top(k);
  }
}
