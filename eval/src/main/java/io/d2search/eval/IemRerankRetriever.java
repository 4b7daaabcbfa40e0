package io.d2search.eval;

import io.d2search.rank.IemHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The student as the query service runs it: embed the query, take the HNSW top {@code depth} documents, score
 * their passages with the IEM's asymmetric (search) branch against the query vector, and rank documents by their
 * best passage's logit. Passage vectors are the ones the index was built from.
 */
public final class IemRerankRetriever implements Retriever {
  private final String name;
  private final HnswDenseRetriever firstStage;
  private final IemHead iem;
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
    this.iem = Objects.requireNonNull(iem, "iem");
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
    List<Integer> candidates = byDoc.of(firstStage.search(q, Math.max(k, depth)));
    List<float[]> ps = new ArrayList<>(candidates.size());
    candidates.forEach(i -> ps.add(vectors[i]));
    float[] logits = iem.logits(q, ps, IemHead.Branch.ASYMMETRIC);
    TopDocs top = new TopDocs();
    for (int j = 0; j < logits.length; j++) {
      top.offer(passages.get(candidates.get(j)).docId(), logits[j]);
    }
    return top.top(k);
  }
}
