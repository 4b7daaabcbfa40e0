package io.d2search.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PassageIdTest {

  private static final long SEED = Long.getLong("d2search.test.seed", System.nanoTime());

  @Test
  void formatAndParseRoundTrip() {
    System.out.printf("PassageIdTest seed %d (replay with -Dd2search.test.seed=%d)%n", SEED, SEED);
    Random random = new Random(SEED);
    RandomEvents events = new RandomEvents(random);
    for (int i = 0; i < 1_000; i++) {
      PassageId id = new PassageId(events.id(), random.nextInt(Integer.MAX_VALUE));

      assertThat(PassageId.parse(id.toString())).isEqualTo(id);
    }
  }

  @Test
  void formatsAsDocIdHashN() {
    assertThat(new PassageId("doc-1", 12)).hasToString("doc-1#12");
    assertThat(PassageId.parse("doc-1#0")).isEqualTo(new PassageId("doc-1", 0));
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "", "#", "doc", "doc#", "#1", "##1", "doc#-1", "doc#x", "doc#1x", "doc# 1", "doc#1 ", "a#b#1",
    "doc#2147483648", "doc#+1", "doc#01", "doc#\u0663"
  })
  void rejectsKeysOfAnotherShape(String key) {
    assertThatThrownBy(() -> PassageId.parse(key))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(key);
  }

  @Test
  void rejectsBadParts() {
    assertThatThrownBy(() -> new PassageId("", 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PassageId("a#b", 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PassageId("doc", -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PassageId(null, 0)).isInstanceOf(NullPointerException.class);
  }
}
