package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Start-up failures are one clear line, not a stack trace (reliability issue, finding 5). */
class MainTest {
  @TempDir Path dir;

  @Test
  void aPortInUseAnywhereInTheCauseChainIsRecognised() {
    Exception wrapped = new RuntimeException("Failed to start", new IllegalStateException("wrapper",
        new BindException("Address already in use")));
    assertThat(Main.addressInUse(wrapped)).get().asString()
        .contains("already in use (Address already in use)").contains("D2SEARCH_HTTP_PORT");
    assertThat(Main.addressInUse(new IllegalStateException("other"))).isEmpty();
  }

  @Test
  void theDemoOnABusyBrokerPortEndsInOneLine() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      CommandLine cmd = Main.commandLine();
      StringWriter err = new StringWriter();
      cmd.setErr(new PrintWriter(err));
      int code = cmd.execute("demo", "--kafka-port", Integer.toString(busy.getLocalPort()),
          "--data-dir", dir.toString(), "--exit-when-ready");
      assertThat(code).isEqualTo(2);
      assertThat(err.toString().strip()).as(err.toString()).startsWith("error: a port this command needs is already"
          + " in use").doesNotContain("\n").doesNotContain("\tat ");
    }
  }

  @Test
  void theFeedbackJoinIsAServingSubcommand() {
    CommandLine cmd = Main.commandLine();
    StringWriter out = new StringWriter();
    cmd.setOut(new PrintWriter(out));
    assertThat(cmd.execute("feedback", "--help")).isZero();
    assertThat(out.toString()).contains("impressions x clicks -> training-pairs");
  }

  @Test
  void releaseIsAServingSubcommand() {
    CommandLine cmd = Main.commandLine();
    StringWriter out = new StringWriter();
    cmd.setOut(new PrintWriter(out));
    assertThat(cmd.execute("release", "--help")).isZero();
    assertThat(out.toString()).contains("HEADS when it embeds passages", "--dry-run");
  }
}
