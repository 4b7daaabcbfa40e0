package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.events.Team;
import io.d2search.testkit.Randomized;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Team-draft interleaving's invariants, over random rankings (seeded: {@link Randomized}). */
class TeamDraftTest {
  @Test
  void identicalRankingsInterleaveToThatRankingWithBalancedTeams() {
    List<String> ranking = List.of("a", "b", "c", "d", "e", "f");
    List<TeamDraft.Pick<String>> picks = TeamDraft.interleave(ranking, ranking, 6, Function.identity(),
        new Random(1));
    assertThat(picks).extracting(TeamDraft.Pick::item).containsExactlyElementsOf(ranking);
    long current = picks.stream().filter(p -> p.team() == Team.CURRENT).count();
    assertThat(current).isEqualTo(3);
  }

  @Test
  void eachTeamPicksItsOwnBestResultNotYetTaken() {
    List<TeamDraft.Pick<String>> picks = TeamDraft.interleave(List.of("a", "b", "c"), List.of("c", "b", "a"), 3,
        Function.identity(), new Random(7));
    // Whoever picks first takes its top; the other team its top too (different); the third pick is the last one.
    assertThat(picks.get(0).item()).isEqualTo(picks.get(0).team() == Team.CURRENT ? "a" : "c");
    assertThat(picks.get(1).item()).isEqualTo(picks.get(1).team() == Team.CURRENT ? "a" : "c");
    assertThat(picks.get(1).team()).isNotEqualTo(picks.get(0).team());
    assertThat(picks.get(2).item()).isEqualTo("b");
  }

  @Test
  void randomRankingsKeepTheInvariants() {
    Random random = Randomized.random("TeamDraftTest");
    for (int round = 0; round < 500; round++) {
      List<Integer> pool = new ArrayList<>();
      for (int i = 0; i < 1 + random.nextInt(30); i++) {
        pool.add(i);
      }
      List<Integer> current = sample(pool, random);
      List<Integer> canary = sample(pool, random);
      int k = random.nextInt(25);
      List<TeamDraft.Pick<Integer>> picks = TeamDraft.interleave(current, canary, k, Function.identity(), random);
      Set<Integer> union = new HashSet<>(current);
      union.addAll(canary);
      assertThat(picks).hasSize(Math.min(k, union.size()));
      Set<Integer> seen = new HashSet<>();
      int currentTeam = 0;
      int canaryTeam = 0;
      for (TeamDraft.Pick<Integer> p : picks) {
        assertThat(seen.add(p.item())).as("no result twice").isTrue();
        List<Integer> own = p.team() == Team.CURRENT ? current : canary;
        // Each pick is its team's best result not taken before it.
        Integer best = own.stream().filter(i -> !seen.contains(i) || i.equals(p.item())).findFirst().orElseThrow();
        assertThat(p.item()).isEqualTo(best);
        if (p.team() == Team.CURRENT) {
          currentTeam++;
        } else {
          canaryTeam++;
        }
        // While both lists have results left, neither team gets two picks ahead.
        boolean bothLeft = current.stream().anyMatch(i -> !seen.contains(i))
            && canary.stream().anyMatch(i -> !seen.contains(i));
        if (bothLeft) {
          assertThat(Math.abs(currentTeam - canaryTeam)).isLessThanOrEqualTo(1);
        }
      }
    }
  }

  private static List<Integer> sample(List<Integer> pool, Random random) {
    List<Integer> shuffled = new ArrayList<>(pool);
    Collections.shuffle(shuffled, random);
    return shuffled.subList(0, random.nextInt(shuffled.size() + 1));
  }
}
