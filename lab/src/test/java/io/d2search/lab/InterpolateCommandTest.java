package io.d2search.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.bundle.ModelBundle;
import io.d2search.distill.WeightInterpolation;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class InterpolateCommandTest {
  @TempDir Path dir;

  private final StringWriter err = new StringWriter();

  private int run(String... args) throws Exception {
    Path config = Files.writeString(dir.resolve("d2search.properties"), "data.dir=" + dir.resolve("data") + "\n");
    CommandLine cmd = LabMain.commandLine();
    cmd.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 3];
    all[0] = "interpolate";
    all[1] = "--config";
    all[2] = config.toString();
    System.arraycopy(args, 0, all, 3, args.length);
    return cmd.execute(all);
  }

  @Test
  void writesALoadableBundleThatRecordsItsEndpoints() throws Exception {
    Path out = dir.resolve("data/bundles/half");
    assertThat(run("--to", "0", "--alpha", "0.25", "--out", out.toString())).isEqualTo(0);
    ModelBundle bundle = ModelBundle.load(out);
    assertThat(bundle.manifest().parent()).isEqualTo("0");
    assertThat((Map<String, Object>) bundle.manifest().training().get(WeightInterpolation.MANIFEST_KEY))
        .containsEntry("from", "0").containsEntry("to", "0").containsEntry("alpha", 0.25).containsEntry("iem", "none");
    // Two equal endpoints: the same graph, the same heads.
    ModelBundle zero = ModelBundle.load(dir.resolve("data/bundles/0"));
    assertThat(bundle.backboneSha256()).isEqualTo(zero.backboneSha256());
    // Bundles are immutable: a second write to the same directory is refused before any work.
    assertThat(run("--to", "0", "--alpha", "0.5", "--out", out.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("error: ", "already exists; bundles are immutable");
    assertThat(ModelBundle.load(out).checksum()).isEqualTo(bundle.checksum());
  }

  @Test
  void badArgumentsAndMissingBundlesAreOneLineErrors() throws Exception {
    assertThat(run("--to", "0", "--alpha", "1.5", "--out", dir.resolve("data/bundles/x").toString())).isEqualTo(2);
    assertThat(err.toString()).contains("error: alpha must be in [0, 1]: 1.5");
    assertThat(run("--to", "7", "--out", dir.resolve("data/bundles/x").toString())).isEqualTo(2);
    assertThat(err.toString()).contains("error: ", "no manifest.json").doesNotContain("\tat ");
    assertThat(dir.resolve("data/bundles/x")).doesNotExist();
  }
}
