package io.d2search.data;

import io.d2search.testkit.SharedData;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StsBenchmarkTest {
  @TempDir Path dir;

  private static final String SAMPLE = String.join("\r\n",
      "split\tgenre\tdataset\tyear\tsid\tscore\tsentence1\tsentence2",
      "train\tmain-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.",
      "test\tmain-news\tMSRpar\t2012test\t0070\t3.750\t\"Then the captain was gone.\t\"We believe,\" he said.",
      "test\tmain-news\theadlines\t2015\t0002\t0.500\tTwo dogs.\tA cat.\tsource-a\tsource-b",
      "test\tmain-news\theadlines\t2015\t0003\t2.0\tonly seven fields",
      "test\tmain-news\theadlines\t2015\t0004\tn/a\tA.\tB.",
      "test\tmain-news\theadlines\t2015\t0005\t5.5\tA.\tB.",
      "test\tmain-news\theadlines\t2015\t0006\t1.0\tA.\t ",
      "valid\tmain-news\theadlines\t2015\t0007\t1.0\tA.\tB.",
      "",
      "dev\tmain-forums\tanswers\t2016\t0008\t0\tZero.\tNothing.") + "\r\n";

  @Test
  void readsSplitsVerbatimAndSkipsMalformedLines() throws IOException {
    Path gz = dir.resolve("sts.tsv.gz");
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(SAMPLE.getBytes(StandardCharsets.UTF_8));
    }
    Loaded<StsBenchmark.Pair> test = StsBenchmark.read(gz, StsBenchmark.Split.TEST);
    // quotes are text, not CSV quoting; trailing source fields are ignored; CR line ends are gone
    assertThat(test.records()).containsExactly(
        new StsBenchmark.Pair("\"Then the captain was gone.", "\"We believe,\" he said.", 3.75),
        new StsBenchmark.Pair("Two dogs.", "A cat.", 0.5));
    assertThat(test.skipped()).isEqualTo(5);
    assertThat(StsBenchmark.load(gz, StsBenchmark.Split.DEV)).containsExactly(new StsBenchmark.Pair("Zero.", "Nothing.", 0));
    assertThat(StsBenchmark.load(gz, StsBenchmark.Split.TRAIN)).extracting(StsBenchmark.Pair::score).containsExactly(5.0);

    Path plain = dir.resolve("sts.tsv");
    Files.writeString(plain, SAMPLE);
    assertThat(StsBenchmark.load(plain, StsBenchmark.Split.TEST)).isEqualTo(test.records());
    assertThatThrownBy(() -> test.records().add(test.records().get(0))).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void missingFileIsAClearError() {
    assertThatThrownBy(() -> StsBenchmark.load(dir.resolve("none.tsv.gz"), StsBenchmark.Split.TEST))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("none.tsv.gz");
  }

  @Test
  void sharedFileHasThePublishedSplitSizes() {
    Path file = StsBenchmark.file(SharedData.dir());
    Assumptions.assumeTrue(Files.isRegularFile(file), "no " + file + ": STS-B loader not checked on real data");
    int[] expected = {5749, 1500, 1379};
    for (StsBenchmark.Split split : StsBenchmark.Split.values()) {
      Loaded<StsBenchmark.Pair> loaded = StsBenchmark.read(file, split);
      assertThat(loaded.skipped()).isZero();
      assertThat(loaded.records()).hasSize(expected[split.ordinal()]);
      assertThat(loaded.records()).allSatisfy(p -> {
        assertThat(p.sentence1()).isNotBlank().doesNotContain("\t", "\r");
        assertThat(p.sentence2()).isNotBlank().doesNotContain("\t", "\r");
      });
    }
    List<StsBenchmark.Pair> test = StsBenchmark.load(file, StsBenchmark.Split.TEST);
    assertThat(test.get(0)).isEqualTo(new StsBenchmark.Pair("A girl is styling her hair.", "A girl is brushing her hair.", 2.5));
    assertThat(test).anySatisfy(p -> assertThat(p.sentence1()).startsWith("\"We believe we are fully prepared"));
  }
}
