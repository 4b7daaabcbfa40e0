package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DistillCommandTest {
  @Test
  void aSentencePseudoQueryIsTheLastSentenceOfAllowedLength() {
    String text = "Background is short. We measured the effect of vitamin D on bone density in 300 adults. "
        + "Conclusion: vitamin D supplements raise bone density in older adults. Funded by X.";
    assertThat(DistillCommand.lastSentence(text, 8, 40))
        .isEqualTo("Conclusion: vitamin D supplements raise bone density in older adults.");
    assertThat(DistillCommand.lastSentence(text, 12, 40))
        .isEqualTo("We measured the effect of vitamin D on bone density in 300 adults.");
    assertThat(DistillCommand.lastSentence("Too short. Also short.", 8, 40)).isNull();
    assertThat(DistillCommand.lastSentence("", 8, 40)).isNull();
  }
}
