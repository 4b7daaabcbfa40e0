package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Labelled lists survive a reopen, a torn last line (a crash mid-append) is dropped, other damage is refused. */
class LabelStoreTest {
  @TempDir Path dir;

  private static LabelStore.Entry entry(String q, boolean features) {
    return new LabelStore.Entry(q, List.of("d1"), List.of("d7", "d3"), new double[] {0.9, 0.25, 1e-7},
        features ? new double[][] {{1.5, -0.25}, {0, 2}, {-1, 0.125}} : null);
  }

  @Test
  void entriesSurviveAReopenBitForBit() {
    Path file = dir.resolve("labels/setup.jsonl");
    try (LabelStore store = LabelStore.open(file)) {
      store.put(entry("what is vitamin d?", true));
      store.put(entry("a claim, with \"quotes\"\nand a newline", false));
    }
    try (LabelStore store = LabelStore.open(file)) {
      assertThat(store.size()).isEqualTo(2);
      assertThat(store.get("what is vitamin d?", List.of("d1"))).usingRecursiveComparison()
          .isEqualTo(entry("what is vitamin d?", true));
      assertThat(store.get("a claim, with \"quotes\"\nand a newline", List.of("d1")).features()).isNull();
      assertThat(store.get("what is vitamin d?", List.of("d2"))).as("other positives, other list").isNull();
    }
  }

  @Test
  void aTornLastLineIsDroppedAndTheNextEntryStillReads() throws Exception {
    Path file = dir.resolve("setup.jsonl");
    try (LabelStore store = LabelStore.open(file)) {
      store.put(entry("q1", true));
    }
    Files.writeString(file, "{\"text\":\"q2\",\"positives\":[\"d", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    try (LabelStore store = LabelStore.open(file)) {
      assertThat(store.size()).isEqualTo(1);
      store.put(entry("q3", false));
    }
    try (LabelStore store = LabelStore.open(file)) {
      assertThat(store.size()).isEqualTo(2);
      assertThat(store.get("q3", List.of("d1"))).isNotNull();
    }
  }

  @Test
  void damageBeforeTheLastLineIsRefused() throws Exception {
    Path file = dir.resolve("setup.jsonl");
    Files.writeString(file, "not json\n{\"text\":\"q\",\"positives\":[\"d1\"],\"negatives\":[],\"scores\":[0.5]}\n");
    assertThatThrownBy(() -> LabelStore.open(file)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("line 1");
    assertThatThrownBy(() -> new LabelStore.Entry("q", List.of("d1"), List.of("d2"), new double[] {0.5}, null))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
