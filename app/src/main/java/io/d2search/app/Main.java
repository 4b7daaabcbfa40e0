package io.d2search.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The d2search launcher: one picocli command per service or tool; it only wires configuration into components. */
@Command(name = "d2search", mixinStandardHelpOptions = true, version = "d2search 0.1.0",
    description = "Streaming semantic search: Kafka Streams indexer, Lucene HNSW query service, D2LLM student.",
    subcommands = {DemoCommand.class, IndexerCommand.class, QueryServiceCommand.class, IngestCommand.class,
        SearchCommand.class, EvalCommand.class, DistillCommand.class, InterpolateCommand.class, BenchCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line with d2search's error handling: a bad argument or setting, or a missing or corrupt bundle,
   * prints one line, not a trace.
   */
  static CommandLine commandLine() {
    CommandLine cmd = new CommandLine(new Main());
    cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
          || e instanceof io.d2search.bundle.BundleException) {
        commandLine.getErr().println("error: " + e.getMessage());
        return 2;
      }
      throw e;
    });
    return cmd;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
