package io.d2search.loop;

import io.d2search.eval.PairedBootstrap;
import io.d2search.index.Filter;
import io.d2search.index.Hit;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageRanker;
import io.d2search.index.PassageSearcher;
import io.d2search.index.RetrievalMode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The offline gate: ranks every held-out feedback query with the current release and with the candidate, as the
 * query service would serve each ({@link RankingSetup}, the replica index), and judges both rankings by what users
 * clicked. The candidate passes only when nDCG@k improves with the paired bootstrap's 95% lower bound above the
 * margin, recall@k (the guard) drops by no more than its tolerance, and there are enough queries to say so.
 *
 * <p><b>Position bias.</b> Users click what they examine, and examine what is ranked high, so raw clicks favour the
 * ranking that produced them. Each click is weighted by its inverse examination propensity, {@code r^eta} for a
 * result shown at rank r (clipped; {@link DistillerConfig.GateConfig#weight}), the standard correction of unbiased
 * learning to rank; nDCG and recall take those weights as graded gains. What remains of the bias (clicks never
 * made on results never shown) still favours the current release: the side a release gate should err on.
 */
public final class ReleaseGate {
  private final DistillerConfig.GateConfig config;
  private final long seed;

  public ReleaseGate(DistillerConfig.GateConfig config, long seed) {
    this.config = Objects.requireNonNull(config, "config");
    this.seed = seed;
  }

  /**
   * The verdict.
   *
   * @param queries held-out queries judged
   * @param currentNdcg mean nDCG@k of the current release
   * @param candidateNdcg ... of the candidate
   * @param low the 95% interval of their mean difference (candidate − current), lower end
   * @param high ... upper end
   * @param currentRecall mean recall@k of the current release
   * @param candidateRecall ... of the candidate
   * @param passed whether the candidate may be released
   * @param reason why, in words
   */
  public record Verdict(int queries, double currentNdcg, double candidateNdcg, double low, double high,
      double currentRecall, double candidateRecall, boolean passed, String reason) {

    /** The figures a {@code ModelRelease} carries: {@code gate.ndcg.current} and the like. */
    public Map<String, Double> metrics() {
      return metrics("gate.");
    }

    /** The figures under a prefix of their keys. */
    public Map<String, Double> metrics(String prefix) {
      Map<String, Double> m = new java.util.LinkedHashMap<>();
      m.put(prefix + "queries", (double) queries);
      m.put(prefix + "ndcg.current", currentNdcg);
      m.put(prefix + "ndcg.candidate", candidateNdcg);
      m.put(prefix + "ndcg.diff.low", low);
      m.put(prefix + "ndcg.diff.high", high);
      m.put(prefix + "recall.current", currentRecall);
      m.put(prefix + "recall.candidate", candidateRecall);
      return m;
    }
  }

  /**
   * A judged query of a relevance-judged data set's held-out slice, as the gate ranks it: by document (a document
   * counts at its best passage), graded by its judgements.
   *
   * @param query the query text
   * @param grades document id → relevance grade (&gt; 0 relevant)
   */
  public record JudgedQuery(String query, Map<String, Integer> grades) {}

  /**
   * @param heldOut the gate's feedback lists (never trained on)
   * @param current the ranker serving now
   * @param candidate the ranker the candidate would serve
   * @param index the replica of the serving index
   * @param embed the query encoder of the index's vectors
   * @param mode the first stage both re-rank: the query service's
   */
  public Verdict judge(List<FeedbackList> heldOut, PassageIndex index, Function<String, float[]> embed,
      PassageRanker current, PassageRanker candidate, RetrievalMode mode) {
    return judge(feedbackGains(heldOut), "held-out feedback queries", Hit::passageId, index, embed, current,
        candidate, mode);
  }

  /**
   * The same comparison on judged queries (the held-out slice of a relevance-judged split: {@link HeldOutRule}'s,
   * so never trained on), ranked by document.
   */
  public Verdict judgeJudged(List<JudgedQuery> queries, PassageIndex index, Function<String, float[]> embed,
      PassageRanker current, PassageRanker candidate, RetrievalMode mode) {
    return judge(judgedGains(queries), "held-out judged queries", Hit::docId, index, embed, current, candidate,
        mode);
  }

  /** Each click a gain of its inverse examination propensity. */
  private List<Graded> feedbackGains(List<FeedbackList> heldOut) {
    return heldOut.stream().map(list -> {
      Map<String, Double> gains = new HashMap<>();
      for (int p = 0; p < list.positives().size(); p++) {
        gains.put(list.positives().get(p), config.weight(list.positiveRanks().get(p)));
      }
      return new Graded(list.query(), gains);
    }).toList();
  }

  /** Each relevant document a gain of its grade. */
  private static List<Graded> judgedGains(List<JudgedQuery> queries) {
    return queries.stream().map(q -> {
      Map<String, Double> gains = new HashMap<>();
      q.grades().forEach((doc, grade) -> {
        if (grade > 0) {
          gains.put(doc, grade.doubleValue());
        }
      });
      return new Graded(q.query(), gains);
    }).toList();
  }

  /**
   * One model as the query service would serve it: its index of passage vectors, its query encoder, its ranker. A
   * HEADS candidate shares the current release's index and encoder; a FULL one brings its own.
   */
  public record Side(PassageIndex index, Function<String, float[]> embed, PassageRanker ranker) {
    public Side {
      Objects.requireNonNull(index, "index");
      Objects.requireNonNull(embed, "embed");
      Objects.requireNonNull(ranker, "ranker");
    }
  }

  /** {@link #judge(List, PassageIndex, Function, PassageRanker, PassageRanker, RetrievalMode)} over two indexes. */
  public Verdict judge(List<FeedbackList> heldOut, Side current, Side candidate, RetrievalMode mode) {
    return judge(feedbackGains(heldOut), "held-out feedback queries", Hit::passageId, current, candidate, mode);
  }

  /** {@link #judgeJudged(List, PassageIndex, Function, PassageRanker, PassageRanker, RetrievalMode)} over two indexes. */
  public Verdict judgeJudged(List<JudgedQuery> queries, Side current, Side candidate, RetrievalMode mode) {
    return judge(judgedGains(queries), "held-out judged queries", Hit::docId, current, candidate, mode);
  }

  /** A query and the gain of each relevant id (passage or document). */
  private record Graded(String query, Map<String, Double> gains) {}

  private Verdict judge(List<Graded> heldOut, String what, Function<Hit, String> idOf, PassageIndex index,
      Function<String, float[]> embed, PassageRanker current, PassageRanker candidate, RetrievalMode mode) {
    return judge(heldOut, what, idOf, new Side(index, embed, current), new Side(index, embed, candidate), mode);
  }

  private Verdict judge(List<Graded> heldOut, String what, Function<Hit, String> idOf, Side current, Side candidate,
      RetrievalMode mode) {
    int k = config.k();
    int n = heldOut.size();
    if (n < config.minQueries()) {
      return new Verdict(n, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, false,
          "only " + n + " " + what + "; the gate needs " + config.minQueries());
    }
    double[] cur = new double[n];
    double[] cand = new double[n];
    double curRecall = 0;
    double candRecall = 0;
    try (PassageSearcher currentSearcher = current.index().searcher();
        PassageSearcher candidateSearcher = candidate.index().searcher()) {
      for (int i = 0; i < n; i++) {
        Graded q = heldOut.get(i);
        Map<String, Double> gains = q.gains();
        // Ask for more than k passages: ranked by document, a document counts once, at its best passage.
        PassageRanker.Query query = new PassageRanker.Query(q.query(), null, mode,
            Math.min(PassageIndex.MAX_K, 4 * k), Filter.NONE, true);
        List<String> a = ids(currentSearcher, current.ranker().rank(currentSearcher, encoded(query, current)), idOf);
        List<String> b = ids(candidateSearcher,
            candidate.ranker().rank(candidateSearcher, encoded(query, candidate)), idOf);
        cur[i] = ndcg(a, gains, k);
        cand[i] = ndcg(b, gains, k);
        curRecall += recall(a, gains, k) / n;
        candRecall += recall(b, gains, k) / n;
      }
    }
    PairedBootstrap.Interval d = PairedBootstrap.meanDifference(cand, cur, seed);
    double curNdcg = mean(cur);
    double candNdcg = mean(cand);
    boolean better = d.low() > config.margin();
    boolean guarded = candRecall >= curRecall - config.recallTolerance();
    String reason = !better
        ? String.format(java.util.Locale.ROOT, "%s: nDCG@%d %.4f vs current %.4f: the 95%% lower bound of the gain, "
            + "%+.4f, is not above the margin %+.4f", what, k, candNdcg, curNdcg, d.low(), config.margin())
        : !guarded
            ? String.format(java.util.Locale.ROOT, "%s: recall@%d %.4f vs current %.4f drops more than %.4f", what,
                k, candRecall, curRecall, config.recallTolerance())
            : String.format(java.util.Locale.ROOT, "%s: nDCG@%d %.4f vs current %.4f, gain %+.4f [%+.4f, %+.4f]; "
                + "recall@%d %.4f vs %.4f", what, k, candNdcg, curNdcg, d.mean(), d.low(), d.high(), k, candRecall,
                curRecall);
    return new Verdict(n, curNdcg, candNdcg, d.low(), d.high(), curRecall, candRecall, better && guarded, reason);
  }

  /** The query with the side's query vector, when its ranker needs one. */
  private static PassageRanker.Query encoded(PassageRanker.Query query, Side side) {
    return query.needsVector(side.ranker()) ? query.withVector(side.embed().apply(query.text())) : query;
  }

  /** The ranking's ids, best first, each once (a document at its best passage). */
  private static List<String> ids(PassageSearcher searcher, PassageRanker.Ranking ranking, Function<Hit, String> idOf) {
    return searcher.hits(ranking.candidates()).stream()
        .map(idOf).distinct().toList();
  }

  /** nDCG@k with real-valued gains (the clicks' weights); 0 when there is no gain. */
  static double ndcg(List<String> ranking, Map<String, Double> gains, int k) {
    double dcg = 0;
    for (int i = 0; i < Math.min(k, ranking.size()); i++) {
      dcg += gains.getOrDefault(ranking.get(i), 0.0) / log2(i + 2);
    }
    double[] ideal = gains.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double idcg = 0;
    for (int i = 0; i < Math.min(k, ideal.length); i++) {
      idcg += ideal[ideal.length - 1 - i] / log2(i + 2);
    }
    return idcg == 0 ? 0 : dcg / idcg;
  }

  /** The share of the gain found in the top k. */
  static double recall(List<String> ranking, Map<String, Double> gains, int k) {
    double total = gains.values().stream().mapToDouble(Double::doubleValue).sum();
    double found = ranking.stream().limit(k).mapToDouble(id -> gains.getOrDefault(id, 0.0)).sum();
    return total == 0 ? 0 : found / total;
  }

  private static double log2(int x) {
    return Math.log(x) / Math.log(2);
  }

  private static double mean(double[] x) {
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return s / x.length;
  }
}
