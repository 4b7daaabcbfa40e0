package io.d2search.serve;

import io.d2search.events.Team;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/**
 * Team-draft interleaving (Radlinski, Kurup and Joachims, "How does clickthrough data reflect retrieval quality?",
 * CIKM 2008): two rankings of one query become one list, as two team captains pick players. In each round the team
 * with fewer picks so far picks next (a coin decides between equals) and takes its highest-ranked result not taken
 * yet. A click credits the team that picked the clicked result; over many searches the model whose picks are
 * clicked more often is the better one, with each result shown at a position its own ranking earned and position
 * bias falling on both teams alike.
 *
 * <p>Stateless; the caller provides the coin, so a seeded one replays a list exactly.
 */
final class TeamDraft {
  private TeamDraft() {}

  /**
   * One result of the interleaved list and the team that picked it.
   *
   * @param item the result
   * @param team {@link Team#CURRENT} (from {@code current}) or {@link Team#CANARY} (from {@code canary})
   */
  record Pick<T>(T item, Team team) {}

  /**
   * Interleaves two rankings of the same results.
   *
   * @param current the current model's ranking, best first
   * @param canary the canary's ranking, best first
   * @param k at most this many picks
   * @param id what makes two items the same result (a passage id, a Lucene doc id)
   * @param coin decides which team picks first when both have picked as often
   * @return at most {@code k} picks, no result twice; fewer when the two lists together hold fewer results
   */
  static <T> List<Pick<T>> interleave(List<T> current, List<T> canary, int k, Function<T, ?> id,
      RandomGenerator coin) {
    Objects.requireNonNull(coin, "coin");
    if (k < 0) {
      throw new IllegalArgumentException("k must be >= 0: " + k);
    }
    List<Pick<T>> picks = new ArrayList<>(k);
    Set<Object> taken = new HashSet<>();
    int currentPicks = 0;
    int canaryPicks = 0;
    int a = 0;
    int b = 0;
    while (picks.size() < k) {
      while (a < current.size() && taken.contains(id.apply(current.get(a)))) {
        a++;
      }
      while (b < canary.size() && taken.contains(id.apply(canary.get(b)))) {
        b++;
      }
      boolean currentLeft = a < current.size();
      boolean canaryLeft = b < canary.size();
      if (!currentLeft && !canaryLeft) {
        break;
      }
      boolean currentPicksNow = !canaryLeft
          || (currentLeft && (currentPicks < canaryPicks || (currentPicks == canaryPicks && coin.nextBoolean())));
      T item = currentPicksNow ? current.get(a) : canary.get(b);
      taken.add(id.apply(item));
      if (currentPicksNow) {
        picks.add(new Pick<>(item, Team.CURRENT));
        currentPicks++;
      } else {
        picks.add(new Pick<>(item, Team.CANARY));
        canaryPicks++;
      }
    }
    return picks;
  }
}
