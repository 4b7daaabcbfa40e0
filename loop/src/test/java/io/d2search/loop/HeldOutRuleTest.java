package io.d2search.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.testkit.Randomized;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

class HeldOutRuleTest {
  @Test
  void aQueryIsHeldOutByItsTextAloneWhateverItsCaseAndSpacing() {
    HeldOutRule rule = new HeldOutRule(HeldOutRule.GATE, 0.5);
    for (int i = 0; i < 100; i++) {
      String q = "does vitamin d " + i + " lower blood pressure";
      assertThat(rule.contains("  " + q.toUpperCase().replace(" ", "   ") + " ")).isEqualTo(rule.contains(q));
    }
  }

  @Test
  void theSliceHasItsFractionAndSaltsCutIndependentSlices(TestInfo test) {
    Random random = Randomized.random(test.getDisplayName());
    HeldOutRule gate = new HeldOutRule(HeldOutRule.GATE, 0.2);
    HeldOutRule validation = new HeldOutRule(HeldOutRule.VALIDATION, 0.2);
    int n = 20_000;
    int inGate = 0;
    int inBoth = 0;
    for (int i = 0; i < n; i++) {
      String q = Long.toString(random.nextLong(), 36);
      boolean g = gate.contains(q);
      inGate += g ? 1 : 0;
      inBoth += g && validation.contains(q) ? 1 : 0;
    }
    assertThat(inGate / (double) n).isCloseTo(0.2, within(0.015));
    assertThat(inBoth / (double) n).isCloseTo(0.04, within(0.01));
  }

  @Test
  void fractionZeroHoldsNothingOutAndOneIsRefused() {
    assertThat(new HeldOutRule(HeldOutRule.GATE, 0).contains("anything")).isFalse();
    assertThatThrownBy(() -> new HeldOutRule(HeldOutRule.GATE, 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
