package io.d2search.index;

import io.d2search.config.Settings;
import io.d2search.index.FirstStageHit.StageScore;
import io.d2search.index.PassageSearcher.Candidate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * How a hybrid search merges the vector and keyword retrievers' lists into one.
 *
 * <ul>
 *   <li>{@link Method#RRF} (reciprocal rank fusion, Cormack et al. 2009, as Elasticsearch's and OpenSearch's RRF
 *       retrievers): {@code score = w_v / (k + rank_v) + w_k / (k + rank_k)}, a term only for a list that has the
 *       passage. Needs no score calibration: BM25 is unbounded, cosine is not.
 *   <li>{@link Method#SCORE} (normalized-score fusion, as Weaviate's relative-score fusion): each list's scores
 *       min-max scaled to [0, 1] over that list ({@code 1} for all when they are equal), then
 *       {@code score = w_v * v + w_k * k}, 0 for a list that lacks the passage.
 * </ul>
 *
 * <p>Equal fused scores are ordered by the better of the passage's two ranks, then the vector rank, then the Lucene
 * doc id: the order is a function of the two lists alone.
 *
 * @param method how
 * @param rrfK RRF's rank constant, {@code >= 1} (60 in the paper and in Elasticsearch); unused by {@code SCORE}
 * @param vectorWeight weight of the vector list, {@code >= 0}
 * @param keywordWeight weight of the keyword list, {@code >= 0}; not both zero
 */
public record Fusion(Method method, int rrfK, float vectorWeight, float keywordWeight) {

  /** The fusion methods. */
  public enum Method {
    RRF, SCORE;

    /** {@code rrf} or {@code score} (any case). */
    public static Method parse(String name) {
      for (Method m : values()) {
        if (m.name().equalsIgnoreCase(name.strip())) {
          return m;
        }
      }
      throw new IllegalArgumentException("fusion must be rrf or score: '" + name + "'");
    }
  }

  /** The {@code search.fusion*} settings' defaults. */
  public static final Fusion DEFAULT = new Fusion(Method.parse(Settings.defaults().string("search.fusion")),
      Settings.defaults().integer("search.fusion.rrf-k"),
      (float) Settings.defaults().doubleValue("search.fusion.vector-weight"),
      (float) Settings.defaults().doubleValue("search.fusion.keyword-weight"));

  public Fusion {
    Objects.requireNonNull(method, "method");
    if (rrfK < 1) {
      throw new IllegalArgumentException("rrfK must be >= 1: " + rrfK);
    }
    if (!(vectorWeight >= 0) || !(keywordWeight >= 0) || vectorWeight + keywordWeight == 0
        || !Float.isFinite(vectorWeight + keywordWeight)) {
      throw new IllegalArgumentException("weights must be finite, >= 0 and not both 0: vector " + vectorWeight
          + ", keyword " + keywordWeight);
    }
  }

  /** Reads the {@code search.fusion*} settings. */
  public static Fusion of(Settings s) {
    return new Fusion(Method.parse(s.string("search.fusion")), s.integer("search.fusion.rrf-k"),
        (float) s.doubleValue("search.fusion.vector-weight"), (float) s.doubleValue("search.fusion.keyword-weight"));
  }

  /**
   * Fuses two retrievers' lists of the same searcher.
   *
   * @param vector the vector retriever's candidates, best first
   * @param keyword the keyword retriever's candidates, best first
   * @param n how many fused candidates to keep
   * @return at most {@code n}, best first
   */
  public List<FirstStageHit> fuse(List<Candidate> vector, List<Candidate> keyword, int n) {
    Map<Integer, StageScore[]> byDoc = new LinkedHashMap<>();
    for (int i = 0; i < vector.size(); i++) {
      byDoc.computeIfAbsent(vector.get(i).doc(), d -> new StageScore[2])[0] =
          new StageScore(i + 1, vector.get(i).score());
    }
    for (int i = 0; i < keyword.size(); i++) {
      byDoc.computeIfAbsent(keyword.get(i).doc(), d -> new StageScore[2])[1] =
          new StageScore(i + 1, keyword.get(i).score());
    }
    Scale v = Scale.of(vector);
    Scale k = Scale.of(keyword);
    List<FirstStageHit> fused = new ArrayList<>(byDoc.size());
    byDoc.forEach((doc, s) -> fused.add(new FirstStageHit(doc, score(s[0], s[1], v, k), s[0], s[1])));
    fused.sort(ORDER);
    return fused.size() <= n ? fused : new ArrayList<>(fused.subList(0, n));
  }

  /**
   * The arithmetic of a fused score, for explain: e.g. {@code rrf: 1.0/(60+3) + 1.0/(60+1) = 0.03227}.
   *
   * @param hit a hit of {@link #fuse} with the same lists
   * @param vector the vector list it was fused from (for the min-max scale of {@code SCORE})
   * @param keyword the keyword list
   */
  public String explain(FirstStageHit hit, List<Candidate> vector, List<Candidate> keyword) {
    List<String> terms = new ArrayList<>(2);
    if (method == Method.RRF) {
      if (hit.vector() != null) {
        terms.add(fmt(vectorWeight) + "/(" + rrfK + "+" + hit.vector().rank() + ")");
      }
      if (hit.keyword() != null) {
        terms.add(fmt(keywordWeight) + "/(" + rrfK + "+" + hit.keyword().rank() + ")");
      }
      return "rrf: " + String.join(" + ", terms) + " = " + fmt(hit.score());
    }
    Scale v = Scale.of(vector);
    Scale k = Scale.of(keyword);
    if (hit.vector() != null) {
      terms.add(fmt(vectorWeight) + "*" + v.explain(hit.vector().score()));
    }
    if (hit.keyword() != null) {
      terms.add(fmt(keywordWeight) + "*" + k.explain(hit.keyword().score()));
    }
    return "score: " + String.join(" + ", terms) + " = " + fmt(hit.score());
  }

  /** The method's name as settings and explain spell it. */
  public String label() {
    return method.name().toLowerCase(Locale.ROOT);
  }

  private float score(StageScore vector, StageScore keyword, Scale v, Scale k) {
    double score = 0;
    if (method == Method.RRF) {
      score += vector == null ? 0 : vectorWeight / (double) (rrfK + vector.rank());
      score += keyword == null ? 0 : keywordWeight / (double) (rrfK + keyword.rank());
    } else {
      score += vector == null ? 0 : vectorWeight * v.scale(vector.score());
      score += keyword == null ? 0 : keywordWeight * k.scale(keyword.score());
    }
    return (float) score;
  }

  private static final Comparator<FirstStageHit> ORDER = Comparator.comparingDouble(FirstStageHit::score).reversed()
      .thenComparingInt(h -> Math.min(rank(h.vector()), rank(h.keyword())))
      .thenComparingInt(h -> rank(h.vector()))
      .thenComparingInt(FirstStageHit::doc);

  private static int rank(StageScore s) {
    return s == null ? Integer.MAX_VALUE : s.rank();
  }

  private static String fmt(double x) {
    return String.format(Locale.ROOT, "%.5g", x).replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", ".0");
  }

  /** Min-max scaling over one list. */
  private record Scale(float min, float max) {
    static Scale of(List<Candidate> list) {
      float min = Float.POSITIVE_INFINITY;
      float max = Float.NEGATIVE_INFINITY;
      for (Candidate c : list) {
        min = Math.min(min, c.score());
        max = Math.max(max, c.score());
      }
      return new Scale(min, max);
    }

    double scale(float x) {
      return max > min ? (x - (double) min) / ((double) max - min) : 1;
    }

    String explain(float x) {
      return max > min ? "(" + fmt(x) + "-" + fmt(min) + ")/(" + fmt(max) + "-" + fmt(min) + ")" : "1";
    }
  }
}
