package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command end to end, in process: embedded broker, indexer and query service ingest the bundled
 * sample corpus until every passage is searchable; a second run on the same data directory resumes from what is
 * there.
 */
class DemoCommandIT {
  @TempDir Path dir;

  @Test
  @Timeout(300)
  void ingestsTheSampleCorpusUntilSearchableAndResumesOnRestart() throws Exception {
    String first = runDemo();
    assertThat(first).contains("d2search is serving").contains("curl -s -X POST");
    int passages = servedPassages(first);
    assertThat(passages).isGreaterThan(60); // 60 documents, the long ones cut into several passages
    assertThat(Files.isDirectory(dir.resolve("index"))).isTrue();

    String second = runDemo();
    assertThat(servedPassages(second)).isEqualTo(passages);
  }

  private String runDemo() {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      int exit = Main.commandLine().execute("demo", "--data-dir", dir.toString(), "--kafka-port", "0", "--port", "0",
          "--exit-when-ready");
      assertThat(exit).isZero();
    } finally {
      System.setOut(original);
    }
    String text = out.toString(StandardCharsets.UTF_8);
    original.print(text);
    return text;
  }

  private static int servedPassages(String output) {
    var m = java.util.regex.Pattern.compile("serving (\\d+) passages").matcher(output);
    assertThat(m.find()).as("demo output: %s", output).isTrue();
    return Integer.parseInt(m.group(1));
  }
}
