package io.d2search.index;

import io.d2search.index.FirstStageHit.StageScore;
import io.d2search.index.PassageSearcher.Candidate;
import io.d2search.rank.Reranker;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The ranking of a search, both stages, over one pinned {@link PassageSearcher}: the first stage gathers candidates
 * by the request's {@link RetrievalMode} (HNSW, BM25, or both fused), then the IEM {@link Reranker}, when there is one
 * and the request wants it, re-scores the top {@code max(k, depth)} of them by their indexed vectors. The query
 * service and {@code eval} both rank with this class, so what eval measures is what the service serves.
 *
 * <p>Re-ranked order: with {@code firstStageWeight} 0, the IEM logit alone (equal logits keep the first-stage
 * order). Above 0, the logits and the first-stage scores are each min-max scaled over the re-ranked candidates and
 * blended, {@code (1 - w) · logit' + w · firstStage'}: the IEM only sees two vectors, and this keeps what the first
 * stage knew that they do not (BM25's exact terms).
 *
 * <p>Depth: a search that re-ranks, or fuses, takes {@code max(k, depth)} candidates from each retriever (fusion
 * needs more than k of each list: a passage ranked 30th by both can beat one ranked 1st by one); a single-retriever
 * search that does not re-rank takes k.
 *
 * <p>Thread-safe (immutable); each call uses the searcher it is given.
 */
public final class PassageRanker {

  /**
   * One search to rank.
   *
   * @param text the query text (the keyword retriever's input)
   * @param vector the query's unit vector; may be null when the mode is {@link RetrievalMode#KEYWORD} and the search
   *     does not re-rank
   * @param mode which retrievers
   * @param k how many results, {@code 1 <= k <=} {@link PassageIndex#MAX_K}
   * @param filter what every result must meet
   * @param rerank whether to re-rank with the IEM (ignored without one)
   */
  public record Query(String text, float[] vector, RetrievalMode mode, int k, Filter filter, boolean rerank) {
    public Query {
      Objects.requireNonNull(text, "text");
      Objects.requireNonNull(mode, "mode");
      Objects.requireNonNull(filter, "filter");
    }

    /** This query with the query vector (embedded once the caller knows it is needed). */
    public Query withVector(float[] value) {
      return new Query(text, value, mode, k, filter, rerank);
    }

    /** Whether the query vector is needed: for the vector retriever, or to re-rank with {@code ranker}. */
    public boolean needsVector(PassageRanker ranker) {
      return mode.needsVector() || ranker.reranks(this);
    }
  }

  /**
   * One result.
   *
   * @param first the first stage's view of it
   * @param firstStageRank 1-based rank in the first stage's order
   * @param iemScore the IEM logit; null when the search did not re-rank
   * @param score what results are ordered by: the first-stage score; when re-ranked, the IEM logit, or its blend
   *     with the first-stage score ({@code firstStageWeight} above 0)
   */
  public record Ranked(FirstStageHit first, int firstStageRank, Float iemScore, float score) {}

  /**
   * A ranked search.
   *
   * @param hits the k best, best first
   * @param reranked whether the IEM ordered them
   * @param vector the vector retriever's list (empty when it did not run)
   * @param keyword the keyword retriever's list (empty when it did not run)
   * @param timing nanoseconds per stage
   */
  public record Ranking(RetrievalMode mode, List<Ranked> hits, boolean reranked, List<Candidate> vector,
      List<Candidate> keyword, Timing timing, Fusion fusion) {
    public Ranking {
      hits = List.copyOf(hits);
      vector = List.copyOf(vector);
      keyword = List.copyOf(keyword);
    }

    /** The hits as the searcher's candidates, in order, scored by their final score: what {@code hits()} reads. */
    public List<Candidate> candidates() {
      return hits.stream().map(r -> new Candidate(r.first().doc(), r.score())).toList();
    }

    /** The arithmetic of a hybrid hit's fused score; empty for the other modes. */
    public String fusionExplain(Ranked hit) {
      return mode == RetrievalMode.HYBRID ? fusion.explain(hit.first(), vector, keyword) : "";
    }
  }

  /**
   * Nanoseconds spent per stage of one search (0 for a stage that did not run): the HNSW search, BM25, fusion,
   * reading the re-ranked candidates' vectors, and the re-ranker's scoring and sort.
   */
  public record Timing(long vectorNanos, long keywordNanos, long fuseNanos, long readNanos, long rerankNanos) {}

  private final Fusion fusion;
  private final Reranker reranker; // null: none
  private final int depth;
  private final double firstStageWeight;

  /** A ranker whose re-ranked order is the IEM logit alone. */
  public PassageRanker(Fusion fusion, Reranker reranker, int depth) {
    this(fusion, reranker, depth, 0);
  }

  /**
   * @param fusion how hybrid searches fuse
   * @param reranker the IEM re-ranker; null when the model has none
   * @param depth candidates re-ranked (and per retriever when fusing), in [1, {@link PassageIndex#MAX_K}]
   * @param firstStageWeight the first-stage score's share in the re-ranked order, in [0, 1] (0: the logit alone)
   */
  public PassageRanker(Fusion fusion, Reranker reranker, int depth, double firstStageWeight) {
    this.fusion = Objects.requireNonNull(fusion, "fusion");
    this.reranker = reranker;
    if (depth < 1 || depth > PassageIndex.MAX_K) {
      throw new IllegalArgumentException("depth must be in [1, " + PassageIndex.MAX_K + "]: " + depth);
    }
    if (!(firstStageWeight >= 0 && firstStageWeight <= 1)) {
      throw new IllegalArgumentException("firstStageWeight must be in [0, 1]: " + firstStageWeight);
    }
    this.depth = depth;
    this.firstStageWeight = firstStageWeight;
  }

  /** Whether {@code query} will be re-ranked: it asks and there is an IEM. */
  public boolean reranks(Query query) {
    return query.rerank() && reranker != null;
  }

  /**
   * Ranks a search.
   *
   * @throws IllegalArgumentException if k is out of range, or the mode needs a vector and the query has none
   * @throws InvalidFilterException if the filter cannot be applied to this index
   */
  public Ranking rank(PassageSearcher searcher, Query query) {
    PassageIndex.checkK(query.k());
    boolean rerank = reranks(query);
    if ((rerank || query.mode().needsVector()) && query.vector() == null) {
      throw new IllegalArgumentException("a " + query.mode().label() + (rerank ? ", re-ranked" : "")
          + " search needs the query vector");
    }
    RetrievalMode mode = query.mode();
    int n = rerank || mode == RetrievalMode.HYBRID ? Math.max(query.k(), depth) : query.k();
    long t0 = System.nanoTime();
    List<Candidate> vector = mode.needsVector() ? searcher.search(query.vector(), n, query.filter()) : List.of();
    long t1 = System.nanoTime();
    List<Candidate> keyword = mode != RetrievalMode.VECTOR ? searcher.keyword(query.text(), n, query.filter())
        : List.of();
    long t2 = System.nanoTime();
    List<FirstStageHit> first = switch (mode) {
      case VECTOR -> single(vector, true);
      case KEYWORD -> single(keyword, false);
      case HYBRID -> fusion.fuse(vector, keyword, n);
    };
    long t3 = System.nanoTime();
    List<Ranked> hits = new ArrayList<>(Math.min(query.k(), first.size()));
    long read = 0;
    if (!rerank) {
      for (int i = 0; i < first.size() && i < query.k(); i++) {
        hits.add(new Ranked(first.get(i), i + 1, null, first.get(i).score()));
      }
    } else {
      List<Candidate> candidates = first.stream().map(h -> new Candidate(h.doc(), h.score())).toList();
      List<float[]> vectors = searcher.vectors(candidates);
      read = System.nanoTime() - t3;
      if (firstStageWeight == 0) {
        for (Reranker.Scored s : reranker.rerank(query.vector(), vectors, query.k())) {
          hits.add(new Ranked(first.get(s.candidate()), s.candidate() + 1, s.logit(), s.logit()));
        }
      } else {
        hits.addAll(blended(first, reranker.rerank(query.vector(), vectors), query.k()));
      }
    }
    long t4 = System.nanoTime();
    return new Ranking(mode, hits, rerank, vector, keyword, new Timing(t1 - t0, t2 - t1, t3 - t2, read,
        rerank ? t4 - t3 - read : 0),
        fusion);
  }

  /** The fusion of hybrid searches. */
  public Fusion fusion() {
    return fusion;
  }

  /** Candidates re-ranked (and per retriever when fusing). */
  public int depth() {
    return depth;
  }

  /** The k best by the blend of min-max scaled logits and first-stage scores; ties keep the first-stage order. */
  private List<Ranked> blended(List<FirstStageHit> first, List<Reranker.Scored> scored, int k) {
    int n = first.size();
    float[] logit = new float[n];
    scored.forEach(s -> logit[s.candidate()] = s.logit());
    float[] stage = new float[n];
    for (int i = 0; i < n; i++) {
      stage[i] = first.get(i).score();
    }
    double[] blend = new double[n];
    double[] l = minMax(logit);
    double[] f = minMax(stage);
    for (int i = 0; i < n; i++) {
      blend[i] = (1 - firstStageWeight) * l[i] + firstStageWeight * f[i];
    }
    Integer[] order = new Integer[n];
    java.util.Arrays.setAll(order, i -> i);
    java.util.Arrays.sort(order, (a, b) -> Double.compare(blend[b], blend[a])); // stable: ties keep first-stage order
    List<Ranked> out = new ArrayList<>(Math.min(k, n));
    for (int i = 0; i < n && i < k; i++) {
      int c = order[i];
      out.add(new Ranked(first.get(c), c + 1, logit[c], (float) blend[c]));
    }
    return out;
  }

  /** Scaled to [0, 1] over the array; all 1 when the values are equal. */
  private static double[] minMax(float[] x) {
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (float v : x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = max > min ? (x[i] - min) / (max - min) : 1;
    }
    return out;
  }

  /** The first-stage score's share in the re-ranked order (0: the logit alone). */
  public double firstStageWeight() {
    return firstStageWeight;
  }

  private static List<FirstStageHit> single(List<Candidate> list, boolean isVector) {
    List<FirstStageHit> hits = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      StageScore s = new StageScore(i + 1, list.get(i).score());
      hits.add(new FirstStageHit(list.get(i).doc(), s.score(), isVector ? s : null, isVector ? null : s));
    }
    return hits;
  }
}
