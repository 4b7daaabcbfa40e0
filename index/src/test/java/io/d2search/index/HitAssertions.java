package io.d2search.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares two rankings of the same query over the same reader. Equal up to the last bits of a score: Lucene scores
 * with the Panama Vector API, whose float sums ({@code reduceLanes(ADD)}) may run in a different order before and
 * after the JIT compiles them, so the same search can score a passage 1 ulp apart between two calls in one JVM (seen
 * in CI: 0.5327722 vs 0.53277224). Passages whose scores are that close may also swap places.
 */
public final class HitAssertions {
  /** Far above the few-ulp wobble of a 384-term float dot product, far below real score gaps. */
  public static final float SCORE_TOLERANCE = 1e-5f;

  private HitAssertions() {}

  /** {@code actual} is {@code expected}: same passages and stored fields, scores within {@link #SCORE_TOLERANCE}. */
  public static void assertSameRanking(List<Hit> actual, List<Hit> expected) {
    assertThat(actual).hasSameSizeAs(expected);
    Map<String, Hit> expectedById = new HashMap<>();
    expected.forEach(h -> expectedById.put(h.passageId(), h));
    for (int i = 0; i < actual.size(); i++) {
      Hit got = actual.get(i);
      String where = "position " + i + " of " + actual;
      assertThat(got.score()).as(where).isCloseTo(expected.get(i).score(), within(SCORE_TOLERANCE));
      Hit same = expectedById.get(got.passageId());
      if (same == null) {
        // A near-tie across the k-th place: only the last position can take a passage the other list cut off.
        assertThat(i).as(where + ": " + got.passageId() + " is not in " + expected).isEqualTo(actual.size() - 1);
        continue;
      }
      assertThat(got.score()).as(where).isCloseTo(same.score(), within(SCORE_TOLERANCE));
      assertThat(got).as(where).usingRecursiveComparison().ignoringFields("score").isEqualTo(same);
    }
  }
}
