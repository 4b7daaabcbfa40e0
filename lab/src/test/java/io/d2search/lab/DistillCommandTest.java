package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DistillCommandTest {
  @TempDir Path dir;

  @Test
  void refusesABackboneTuningThatCannotFitBeforeReadingAnything() throws Exception {
    Path config = Files.writeString(dir.resolve("d2search.properties"), "data.dir=" + dir.resolve("data") + "\n");
    StringWriter err = new StringWriter();
    CommandLine cmd = LabMain.commandLine();
    cmd.setErr(new PrintWriter(err, true));
    // The dataset does not exist: the refusal must come first, not after the data and the teacher are loaded.
    int exit = cmd.execute("distill", "--config", config.toString(), "--beir", dir.resolve("missing").toString(),
        "--out", dir.resolve("data/bundles/1").toString(), "--tune-layers", "6", "--batch-size", "4096");
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString()).contains("tuning 6 backbone layers at --batch-size 4096 needs about",
        "69632 sequences × 256 tokens", "this machine has", "--no-memory-check");
    assertThat(dir.resolve("data/bundles/1")).doesNotExist();
  }
}
