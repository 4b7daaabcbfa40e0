package io.d2search.loop;

import io.d2search.events.TrainingExample;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The online gate: tallies the clicks of searches that team-draft interleaved the current model with a canary release
 * (the query service records which model picked each result; the feedback join carries it to {@code training-pairs}
 * as each positive's team) and decides with a sign test.
 *
 * <p>Each interleaved search with at least one positive is one trial: the canary wins it when more of its positives
 * were picked by the canary than by the current model, loses it when fewer, ties otherwise (ties are left out, as the
 * sign test does). Once wins + losses reach {@code minImpressions}, the exact two-sided binomial p-value of that split
 * under "no difference" (p = 1/2) decides: below {@code alpha} the canary is promoted if it won more, rolled back if it
 * lost more; with no significant difference after {@code maxImpressions} it is rolled back (the current model stays:
 * a release must show that it is better).
 *
 * <p>Tallies are kept per (canary, current) pair for every example seen, whatever the order in which the examples and
 * the canary's release are read at start. Thread-safe.
 */
final class CanaryJudge {
  /** What to do with the canary now. */
  enum Decision {
    /** It won significantly: publish it as the current release. */
    PROMOTE,
    /** It lost significantly, or showed no significant win in time: withdraw it. */
    ROLL_BACK,
    /** Not enough evidence yet. */
    CONTINUE
  }

  /**
   * The evidence about one canary against one current model.
   *
   * @param wins searches whose clicks favoured the canary
   * @param losses searches whose clicks favoured the current model
   * @param ties searches with positives of both, equally many
   */
  record Tally(long wins, long losses, long ties) {
    /** Trials that count: wins and losses. */
    long trials() {
      return wins + losses;
    }

    /** The exact two-sided sign test's p-value; 1 with no trials. */
    double pValue() {
      return signTest(wins, losses);
    }
  }

  /**
   * A decision and why.
   *
   * @param decision promote, roll back, or wait
   * @param tally the evidence it rests on
   * @param pValue the sign test's two-sided p-value
   * @param reason one line for logs and reports
   */
  record Verdict(Decision decision, Tally tally, double pValue, String reason) {}

  private record Pair(String canary, String current) {}

  private final Map<Pair, long[]> tallies = new HashMap<>();

  /** Counts an example if it comes from an interleaved search. */
  synchronized void add(TrainingExample e) {
    if (e.getCanaryVersion() == null || e.getModelVersion() == null || e.getPositiveTeams().isEmpty()) {
      return;
    }
    int canary = 0;
    int current = 0;
    for (String team : e.getPositiveTeams()) {
      if ("CANARY".equals(team)) {
        canary++;
      } else if ("CURRENT".equals(team)) {
        current++;
      }
    }
    if (canary == 0 && current == 0) {
      return;
    }
    long[] t = tallies.computeIfAbsent(new Pair(e.getCanaryVersion(), e.getModelVersion()), p -> new long[3]);
    t[canary > current ? 0 : canary < current ? 1 : 2]++;
  }

  /** The evidence so far for a canary against a current model. */
  synchronized Tally tally(String canary, String current) {
    long[] t = tallies.getOrDefault(new Pair(canary, current), new long[3]);
    return new Tally(t[0], t[1], t[2]);
  }

  /** The verdict on a canary under these rules. */
  Verdict judge(String canary, String current, DistillerConfig.CanaryConfig rules) {
    Objects.requireNonNull(rules, "rules");
    Tally t = tally(canary, current);
    double p = t.pValue();
    String counts = t.wins() + " wins, " + t.losses() + " losses, " + t.ties() + " ties against " + current
        + String.format(java.util.Locale.ROOT, ", sign test p = %.4f", p);
    if (t.trials() < rules.minImpressions()) {
      return new Verdict(Decision.CONTINUE, t, p, counts + "; waiting for " + rules.minImpressions() + " decided searches");
    }
    if (p < rules.alpha()) {
      return t.wins() > t.losses()
          ? new Verdict(Decision.PROMOTE, t, p, "canary " + canary + " won: " + counts)
          : new Verdict(Decision.ROLL_BACK, t, p, "canary " + canary + " lost: " + counts);
    }
    if (t.trials() >= rules.maxImpressions()) {
      return new Verdict(Decision.ROLL_BACK, t, p, "canary " + canary + " showed no significant win after "
          + t.trials() + " decided searches: " + counts);
    }
    return new Verdict(Decision.CONTINUE, t, p, counts);
  }

  /**
   * The exact two-sided sign test: P(a split at least as uneven as {@code wins}:{@code losses}) for n = wins + losses
   * fair coin flips, that is {@code min(1, 2 P(X <= min(wins, losses)))} with X ~ Binomial(n, 1/2).
   */
  static double signTest(long wins, long losses) {
    long n = wins + losses;
    if (n == 0) {
      return 1;
    }
    long low = Math.min(wins, losses);
    // log C(n, k) - n log 2, summed over k = 0..low in log space (stable for thousands of trials).
    double logHalfN = -n * Math.log(2);
    double logC = 0; // log C(n, 0)
    double max = Double.NEGATIVE_INFINITY;
    double[] terms = new double[(int) low + 1];
    for (long k = 0; k <= low; k++) {
      if (k > 0) {
        logC += Math.log((double) (n - k + 1) / k);
      }
      terms[(int) k] = logC + logHalfN;
      max = Math.max(max, terms[(int) k]);
    }
    double sum = 0;
    for (double t : terms) {
      sum += Math.exp(t - max);
    }
    return Math.min(1, 2 * Math.exp(max) * sum);
  }
}
