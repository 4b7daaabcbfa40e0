package io.d2search.eval;

import io.d2search.rank.IemHead;
import io.d2search.rank.Reranker;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The student as the query service runs it: embed the query, take the HNSW top {@code depth} documents, re-rank
 * their passages with the service's {@link Reranker} (IEM asymmetric branch against the query vector, equal logits
 * keeping the first-stage order), and list each document where its first passage falls in that order: at its best
 * passage, documents whose best logits tie keeping the first-stage order. Passage vectors are the ones the index was
 * built from.
 */
public final class IemRerankRetriever implements Retriever {
  private final String name;
  private final HnswDenseRetriever firstStage;
  private final Reranker reranker;
  private final int depth;
  private final List<EvalPassage> passages;
  private final float[][] vectors;
  private final PassagesByDoc byDoc;

  /**
   * @param firstStage the student's HNSW retriever over {@code passages}
   * @param vectors the student's vector of each passage, same order as {@code passages}
   * @param depth documents re-ranked per query
   */
  public IemRerankRetriever(String name, HnswDenseRetriever firstStage, IemHead iem, int depth,
      List<EvalPassage> passages, float[][] vectors) {
    if (passages.size() != vectors.length) {
      throw new IllegalArgumentException(passages.size() + " passages but " + vectors.length + " vectors");
    }
    this.name = Objects.requireNonNull(name, "name");
    this.firstStage = Objects.requireNonNull(firstStage, "firstStage");
    this.reranker = new Reranker(iem);
    this.depth = depth;
    this.passages = passages;
    this.vectors = vectors;
    this.byDoc = new PassagesByDoc(passages);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    float[] q = firstStage.embed(query);
    // The first stage's documents, best first, each with its passages: the candidates in first-stage order.
    List<Integer> candidates = byDoc.of(firstStage.search(q, Math.max(k, depth)));
    List<float[]> ps = new ArrayList<>(candidates.size());
    candidates.forEach(i -> ps.add(vectors[i]));
    List<ScoredDoc> top = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (Reranker.Scored s : reranker.rerank(q, ps)) {
      if (top.size() >= k) {
        break;
      }
      String docId = passages.get(candidates.get(s.candidate())).docId();
      if (seen.add(docId)) { // a document's first passage in the re-ranked order is its best
        top.add(new ScoredDoc(docId, s.logit()));
      }
    }
    return top;
  }
}
