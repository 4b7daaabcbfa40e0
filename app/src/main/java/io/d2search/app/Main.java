package io.d2search.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The serving command line: one picocli command per service or tool; it only wires configuration into components.
 * The lab's commands (eval, distill, interpolate, bench) live in the lab artifact ({@code io.d2search.lab.LabMain}),
 * which the {@code d2search} launcher picks for them.
 */
@Command(name = "d2search", mixinStandardHelpOptions = true, version = "d2search 0.1.0",
    description = "Streaming semantic search: Kafka Streams indexer, Lucene HNSW query service, D2LLM student.",
    subcommands = {DemoCommand.class, IndexerCommand.class, QueryServiceCommand.class, FeedbackCommand.class,
        IngestCommand.class, SearchCommand.class, ReleaseCommand.class, CommandLine.HelpCommand.class},
    footer = "%nThe lab's commands (eval, distill, interpolate, bench, simulate-clicks, distiller, loop-report, chaos) run through the same launcher: ./d2search eval --help")
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line with d2search's error handling: a bad argument or setting, or a missing or corrupt bundle,
   * prints one line, not a trace.
   */
  static CommandLine commandLine() {
    return commandLine(new Main());
  }

  /** {@link #commandLine()} over another root command (the lab's, which adds its commands to these). */
  public static CommandLine commandLine(Object root) {
    CommandLine cmd = new CommandLine(root);
    cmd.setCaseInsensitiveEnumValuesAllowed(true); // --extra-refreshes full, as settings spell kinds
    cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      java.util.Optional<String> inUse = addressInUse(e);
      if (inUse.isPresent()) {
        commandLine.getErr().println("error: " + inUse.get());
        return 2;
      }
      if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
          || e instanceof io.d2search.bundle.BundleException) {
        commandLine.getErr().println("error: " + e.getMessage());
        return 2;
      }
      throw e;
    });
    return cmd;
  }

  /**
   * A start-up failure because a port is taken (HTTP, the embedded broker, the metrics endpoint), found anywhere in
   * the cause chain, as one line that says what to change; empty for any other failure.
   */
  static java.util.Optional<String> addressInUse(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException || t.getClass().getSimpleName().equals("JavalinBindException")) {
        return java.util.Optional.of("a port this command needs is already in use (" + t.getMessage()
            + "); stop what holds it, or choose other ports: http.port / D2SEARCH_HTTP_PORT for HTTP, "
            + "--kafka-port for the demo's broker, indexer.metrics-port for the indexer's metrics");
      }
    }
    return java.util.Optional.empty();
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
