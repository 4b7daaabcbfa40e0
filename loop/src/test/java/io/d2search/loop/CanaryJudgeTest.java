package io.d2search.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.events.ExampleSource;
import io.d2search.events.TrainingExample;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The online gate's tally and sign test. */
class CanaryJudgeTest {
  private static final DistillerConfig.CanaryConfig RULES = new DistillerConfig.CanaryConfig(true, 20, 100, 0.05);

  private static TrainingExample example(String canary, String current, String... teams) {
    List<String> positives = java.util.stream.IntStream.range(0, teams.length).mapToObj(i -> "d" + i + "#0").toList();
    return TrainingExample.newBuilder().setQueryId("q").setQuery("q").setPositives(positives)
        .setPositiveRanks(java.util.stream.IntStream.range(0, teams.length).map(i -> i + 1).boxed().toList())
        .setNegatives(List.of()).setSource(ExampleSource.CLICKS).setModelVersion(current).setCanaryVersion(canary)
        .setPositiveTeams(List.of(teams)).setTs(Instant.EPOCH).build();
  }

  @Test
  void theSignTestMatchesTheBinomialDistribution() {
    assertThat(CanaryJudge.signTest(0, 0)).isEqualTo(1);
    assertThat(CanaryJudge.signTest(5, 5)).isEqualTo(1);
    // n = 10, k <= 1: (1 + 10) / 1024, two-sided.
    assertThat(CanaryJudge.signTest(9, 1)).isCloseTo(2 * 11 / 1024.0, within(1e-12));
    assertThat(CanaryJudge.signTest(1, 9)).isEqualTo(CanaryJudge.signTest(9, 1));
    // n = 20, k <= 5: 21700 / 2^20 one-sided.
    assertThat(CanaryJudge.signTest(15, 5)).isCloseTo(2 * 21700 / 1048576.0, within(1e-12));
    // Large n stays finite and tiny for a lopsided split, near 1 for an even one.
    assertThat(CanaryJudge.signTest(3000, 2000)).isLessThan(1e-40).isPositive();
    assertThat(CanaryJudge.signTest(2501, 2499)).isGreaterThan(0.9);
  }

  @Test
  void clicksCreditTheTeamThatPickedAndOnlyInterleavedSearchesCount() {
    CanaryJudge judge = new CanaryJudge();
    judge.add(example("c", "0", "CANARY", "CANARY", "CURRENT")); // canary wins
    judge.add(example("c", "0", "CURRENT")); // loses
    judge.add(example("c", "0", "CANARY", "CURRENT")); // tie
    judge.add(example(null, "0")); // not interleaved
    judge.add(example("c", "1", "CANARY")); // another current model
    CanaryJudge.Tally t = judge.tally("c", "0");
    assertThat(t).isEqualTo(new CanaryJudge.Tally(1, 1, 1));
    assertThat(judge.tally("c", "1").wins()).isEqualTo(1);
    assertThat(judge.judge("c", "0", RULES).decision()).isEqualTo(CanaryJudge.Decision.CONTINUE);
  }

  @Test
  void aSignificantWinPromotesALossRollsBackAndNoWinInTimeRollsBack() {
    CanaryJudge winner = new CanaryJudge();
    for (int i = 0; i < 16; i++) {
      winner.add(example("c", "0", "CANARY"));
    }
    for (int i = 0; i < 4; i++) {
      winner.add(example("c", "0", "CURRENT"));
    }
    CanaryJudge.Verdict won = winner.judge("c", "0", RULES);
    assertThat(won.decision()).isEqualTo(CanaryJudge.Decision.PROMOTE);
    assertThat(won.pValue()).isLessThan(0.05);

    CanaryJudge loser = new CanaryJudge();
    for (int i = 0; i < 20; i++) {
      loser.add(example("c", "0", i < 4 ? "CANARY" : "CURRENT"));
    }
    assertThat(loser.judge("c", "0", RULES).decision()).isEqualTo(CanaryJudge.Decision.ROLL_BACK);

    CanaryJudge even = new CanaryJudge();
    for (int i = 0; i < 99; i++) {
      even.add(example("c", "0", i % 2 == 0 ? "CANARY" : "CURRENT"));
    }
    assertThat(even.judge("c", "0", RULES).decision()).isEqualTo(CanaryJudge.Decision.CONTINUE);
    even.add(example("c", "0", "CURRENT"));
    CanaryJudge.Verdict noWin = even.judge("c", "0", RULES);
    assertThat(noWin.decision()).isEqualTo(CanaryJudge.Decision.ROLL_BACK);
    assertThat(noWin.reason()).contains("no significant win after 100");
  }
}
