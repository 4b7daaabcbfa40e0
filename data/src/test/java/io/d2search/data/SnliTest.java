package io.d2search.data;

import io.d2search.testkit.SharedData;
import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.data.Snli.Label;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnliTest {
  @TempDir Path dir;

  @Test
  void readsLabelledPairsAndSkipsNoConsensusAndMalformedLines() throws IOException {
    Path file = dir.resolve("snli.jsonl");
    Files.writeString(file, """
        {"gold_label": "neutral", "sentence1": "Two women embrace.", "sentence2": "The sisters hug.", "pairID": "1n"}
        {"gold_label": "entailment", "sentence1": "Two women embrace.", "sentence2": "Two women hug."}
        {"gold_label": "-", "sentence1": "Two women embrace.", "sentence2": "Nobody agrees."}
        {"gold_label": "contradiction", "sentence1": "Two women embrace.", "sentence2": "The men fight."}
        {"gold_label": "entailment", "sentence1": "A dog runs.", "sentence2": "An animal moves."}
        {"gold_label": "maybe", "sentence1": "A dog runs.", "sentence2": "A cat sleeps."}
        {"gold_label": "neutral", "sentence1": "A dog runs."}
        {"gold_label": "neutral", "sentence1": "A dog runs.", "sentence2": ""}

        {"gold_label": "contradiction", "sentence1": "A dog runs.", "sentence2": "A dog sl
        """);
    Loaded<Snli.Pair> loaded = Snli.read(file);
    assertThat(loaded.skipped()).isEqualTo(4);
    assertThat(loaded.records()).containsExactly(
        new Snli.Pair("Two women embrace.", "The sisters hug.", Label.NEUTRAL),
        new Snli.Pair("Two women embrace.", "Two women hug.", Label.ENTAILMENT),
        new Snli.Pair("Two women embrace.", "The men fight.", Label.CONTRADICTION),
        new Snli.Pair("A dog runs.", "An animal moves.", Label.ENTAILMENT));

    List<Snli.Group> groups = Snli.byPremise(loaded.records());
    assertThat(groups).containsExactly(
        new Snli.Group("Two women embrace.", List.of("Two women hug."), List.of("The sisters hug."),
            List.of("The men fight.")),
        new Snli.Group("A dog runs.", List.of("An animal moves."), List.of(), List.of()));
    assertThat(groups.get(0).hardNegatives()).containsExactly("The men fight.", "The sisters hug.");
    assertThat(groups.get(1).hardNegatives()).isEmpty();
  }

  @Test
  void labelsRoundTrip() {
    for (Label label : Label.values()) {
      assertThat(Label.fromId(label.id())).isEqualTo(label);
    }
    assertThat(Snli.Split.DEV.fileName()).isEqualTo("snli_1.0_dev.jsonl");
  }

  @Test
  void sharedDevAndTestLoadWithoutNoConsensusPairs() {
    Path data = SharedData.dir();
    Path dev = Snli.file(data, Snli.Split.DEV);
    Path test = Snli.file(data, Snli.Split.TEST);
    Assumptions.assumeTrue(Files.isRegularFile(dev) && Files.isRegularFile(test),
        "no " + dev + " or " + test + ": SNLI loader not checked on real data");
    // the truncated copies: 1,289 and 1,277 lines, of which 16 and 23 have gold label "-"
    Loaded<Snli.Pair> devPairs = Snli.read(dev);
    Loaded<Snli.Pair> testPairs = Snli.read(test);
    assertThat(devPairs.skipped()).isZero();
    assertThat(testPairs.skipped()).isZero();
    assertThat(devPairs.records()).hasSize(1273);
    assertThat(testPairs.records()).hasSize(1254);
    assertThat(devPairs.records().get(0)).isEqualTo(new Snli.Pair("Two women are embracing while holding to go packages.",
        "The sisters are hugging goodbye while holding to go packages after just eating lunch.", Label.NEUTRAL));
    assertThat(devPairs.records()).extracting(Snli.Pair::label).contains(Label.values());

    List<Snli.Group> groups = Snli.byPremise(devPairs.records());
    assertThat(groups.stream().mapToInt(g -> g.entailed().size() + g.neutral().size() + g.contradicted().size()).sum())
        .isEqualTo(1273);
    // One hypothesis per label was written for each caption, but the gold label is the annotators' majority: in
    // dev 330 of 427 premises keep exactly one of each, and 397 have a positive and at least one hard negative.
    long full = groups.stream()
        .filter(g -> g.entailed().size() == 1 && g.neutral().size() == 1 && g.contradicted().size() == 1).count();
    long trainable = groups.stream().filter(g -> !g.entailed().isEmpty() && !g.hardNegatives().isEmpty()).count();
    assertThat(groups).hasSize(427);
    assertThat(full).isEqualTo(330);
    assertThat(trainable).isEqualTo(397);
  }
}
