package io.d2search.eval;

import java.util.List;
import java.util.Objects;

/**
 * A first stage's top {@code depth} documents re-ranked by a text pair scorer (e.g. a teacher): each of their
 * passages is scored against the query and documents are ranked by their best passage.
 */
public final class RerankRetriever implements Retriever {

  /** Scores passage texts against a query; higher is more relevant. */
  @FunctionalInterface
  public interface PairScorer {
    double[] score(String query, List<String> passages);
  }

  private final String name;
  private final Retriever firstStage;
  private final PairScorer scorer;
  private final int depth;
  private final List<EvalPassage> passages;
  private final PassagesByDoc byDoc;

  public RerankRetriever(String name, Retriever firstStage, PairScorer scorer, int depth,
      List<EvalPassage> passages) {
    this.name = Objects.requireNonNull(name, "name");
    this.firstStage = Objects.requireNonNull(firstStage, "firstStage");
    this.scorer = Objects.requireNonNull(scorer, "scorer");
    this.depth = depth;
    this.passages = passages;
    this.byDoc = new PassagesByDoc(passages);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    List<Integer> candidates = byDoc.of(firstStage.search(query, Math.max(k, depth)));
    double[] scores = scorer.score(query, candidates.stream().map(i -> passages.get(i).embedText()).toList());
    TopDocs top = new TopDocs();
    for (int j = 0; j < scores.length; j++) {
      top.offer(passages.get(candidates.get(j)).docId(), scores[j]);
    }
    return top.top(k);
  }
}
