package io.d2search.lab;

import io.d2search.app.DemoCommand;
import io.d2search.app.FeedbackCommand;
import io.d2search.app.IndexerCommand;
import io.d2search.app.IngestCommand;
import io.d2search.app.Main;
import io.d2search.app.QueryServiceCommand;
import io.d2search.app.ReleaseCommand;
import io.d2search.app.SearchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The lab command line: evaluation, distillation, weight interpolation and benchmarks, beside every serving
 * command (so one jar runs them all). The serving image does not carry it.
 */
@Command(name = "d2search", mixinStandardHelpOptions = true, version = "d2search 0.1.0",
    description = "Streaming semantic search: Kafka Streams indexer, Lucene HNSW query service, D2LLM student.",
    subcommands = {DemoCommand.class, IndexerCommand.class, QueryServiceCommand.class, FeedbackCommand.class, IngestCommand.class,
        SearchCommand.class, ReleaseCommand.class, EvalCommand.class, DistillCommand.class, InterpolateCommand.class,
        BenchCommand.class,
        SimulateClicksCommand.class, DistillerCommand.class, LoopReportCommand.class, ChaosCommand.class,
        CommandLine.HelpCommand.class})
public final class LabMain implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The command line with the serving launcher's error handling. */
  static CommandLine commandLine() {
    return Main.commandLine(new LabMain());
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
