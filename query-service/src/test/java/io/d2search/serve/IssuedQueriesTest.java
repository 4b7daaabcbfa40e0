package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.testkit.Randomized;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Clicks are taken for what was shown, when it was shown, by whom it was signed. */
class IssuedQueriesTest {
  private static final long NOW = 1_800_000_000_000L;

  private static IssuedQueries issued(String secret, int capacity) {
    return new IssuedQueries(new IssuedQueries.Policy(Duration.ofMinutes(30), capacity, secret, 600));
  }

  @Test
  void aClickOnWhatWasShownIsTakenAndAnythingElseRefused() {
    Random random = Randomized.random("aClickOnWhatWasShownIsTakenAndAnythingElseRefused");
    IssuedQueries issued = issued("s3cret", 1_000);
    for (int round = 0; round < Randomized.atLeast(random, 50); round++) {
      List<String> shown = new ArrayList<>();
      for (int i = 1 + random.nextInt(10); i > 0; i--) {
        shown.add("d" + random.nextInt(1_000) + "#" + random.nextInt(3));
      }
      String id = issued.issue(shown, NOW);
      int rank = 1 + random.nextInt(shown.size());
      assertThatCode(() -> issued.check(id, shown.get(rank - 1), rank, NOW + random.nextInt(1_800_000)))
          .doesNotThrowAnyException();
      assertThatThrownBy(() -> issued.check(id, "never#9", rank, NOW)).isInstanceOf(IssuedQueries.RejectedClick.class)
          .hasMessageContaining("was not shown at rank " + rank);
      assertThatThrownBy(() -> issued.check(id, shown.get(0), shown.size() + 1, NOW))
          .hasMessageContaining("out of range");
      assertThatThrownBy(() -> issued.check(id, shown.get(rank - 1), rank, NOW + 1_800_001))
          .hasMessageContaining("expired");
      char[] tampered = id.toCharArray();
      int at = random.nextInt(id.lastIndexOf('.'));
      tampered[at] = tampered[at] == 'a' ? 'b' : 'a';
      assertThatThrownBy(() -> issued.check(new String(tampered), shown.get(rank - 1), rank, NOW))
          .isInstanceOf(IssuedQueries.RejectedClick.class);
    }
    assertThatThrownBy(() -> issued.check("q-1", "a#0", 1, NOW)).hasMessageContaining("unknown queryId");
  }

  @Test
  void anotherReplicaWithTheSameSecretAcceptsTheIdsAndOneWithAnotherDoesNot() {
    String id = issued("shared", 10).issue(List.of("a#0", "b#0"), NOW);
    assertThatCode(() -> issued("shared", 10).check(id, "b#0", 2, NOW)).doesNotThrowAnyException();
    assertThatThrownBy(() -> issued("other", 10).check(id, "b#0", 2, NOW)).hasMessageContaining("unknown queryId");
    assertThatThrownBy(() -> issued("", 10).check(id, "b#0", 2, NOW)).hasMessageContaining("unknown queryId");
  }

  @Test
  void theSecretIsNeverPrinted() {
    org.assertj.core.api.Assertions.assertThat(
        new IssuedQueries.Policy(Duration.ofMinutes(1), 1, "hunter2", 1).toString()).doesNotContain("hunter2");
  }
}
