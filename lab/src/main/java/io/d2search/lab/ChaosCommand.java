package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.bench.chaos.FaultInjection;
import io.d2search.bench.chaos.FaultInjection.Fault;
import io.d2search.bench.chaos.FaultInjection.Scenario;
import io.d2search.ingest.CorpusDocument;
import io.d2search.ingest.CorpusFile;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code chaos}: the fault-injection suite ({@link FaultInjection}) with its table: a clean run, then one scenario
 * per fault kind (or all faults in one, {@code --mixed}), each compared with the clean run's index.
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
    description = "Fault injection: kill -9 the indexer and the query service (JVMs of their own) and restart the "
        + "broker at random points while documents are created, updated and deleted and searches run; compare each "
        + "index with a clean run's and print lost, duplicated, dead-lettered, 5xx and recovery times.")
final class ChaosCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--corpus", paramLabel = "FILE.jsonl",
      description = "Documents to create (JSON lines, as ingest reads; default: the bundled sample corpus).")
  Path corpus;

  @Option(names = "--documents", defaultValue = "200", description = "At most this many (default: ${DEFAULT-VALUE}).")
  int documents;

  @Option(names = "--kills", defaultValue = "3",
      description = "kill -9 of each service per scenario (default: ${DEFAULT-VALUE}).")
  int kills;

  @Option(names = "--broker-restarts", defaultValue = "2", description = "Default: ${DEFAULT-VALUE}.")
  int brokerRestarts;

  @Option(names = "--mixed", description = "One scenario with every fault instead of one per kind.")
  boolean mixed;

  @Option(names = "--rate", defaultValue = "4", description = "Document changes per second (default: ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--updates", defaultValue = "0.2",
      description = "Chance of an update after each creation (default: ${DEFAULT-VALUE}).")
  double updates;

  @Option(names = "--deletes", defaultValue = "0.1",
      description = "Chance of a delete after each creation (default: ${DEFAULT-VALUE}).")
  double deletes;

  @Option(names = "--downtime-ms", defaultValue = "2000",
      description = "How long a killed service stays down and a broker restart lasts (default: ${DEFAULT-VALUE}).")
  long downtimeMs;

  @Option(names = "--static-membership", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "The indexer runs with indexer.instance-id, as deploy/k8s runs it (default: ${DEFAULT-VALUE}).")
  boolean staticMembership;

  @Option(names = "--seed", defaultValue = "0", description = "Seeds the changes and where the faults strike.")
  long seed;

  @Option(names = "--markdown", paramLabel = "FILE.md", description = "Also write the table as Markdown.")
  Path markdown;

  @Override
  public Integer call() throws Exception {
    Path work = Components.dataDir(config.settings()).resolve("chaos")
        .resolve(Instant.now().toString().replace(':', '-'));
    Files.createDirectories(work);
    Path source = corpus;
    if (source == null) {
      source = work.resolve("sample.jsonl");
      try (InputStream in = ChaosCommand.class.getResourceAsStream("/sample/documents.jsonl")) {
        Files.copy(in, source);
      }
    }
    List<CorpusDocument> docs = new ArrayList<>();
    CorpusFile.forEachDocument(source, d -> {
      if (docs.size() < documents) {
        docs.add(d);
      }
    });
    List<Scenario> scenarios = new ArrayList<>();
    if (mixed) {
      List<Fault> all = new ArrayList<>();
      for (int i = 0; i < Math.max(kills, brokerRestarts); i++) {
        if (i < kills) {
          all.add(Fault.INDEXER_KILL);
          all.add(Fault.QUERY_SERVICE_KILL);
        }
        if (i < brokerRestarts) {
          all.add(Fault.BROKER_RESTART);
        }
      }
      scenarios.add(new Scenario("mixed", all));
    } else {
      if (kills > 0) {
        scenarios.add(Scenario.of(Fault.INDEXER_KILL, kills));
        scenarios.add(Scenario.of(Fault.QUERY_SERVICE_KILL, kills));
      }
      if (brokerRestarts > 0) {
        scenarios.add(Scenario.of(Fault.BROKER_RESTART, brokerRestarts));
      }
    }
    FaultInjection suite = new FaultInjection(new FaultInjection.Options(work, docs, updates, deletes, rate,
        Duration.ofMillis(downtimeMs), Duration.ofMinutes(5), seed, staticMembership), line -> System.out.println("chaos: " + line));
    List<FaultInjection.Outcome> outcomes = suite.run(scenarios);
    String table = suite.table(outcomes);
    System.out.println();
    System.out.print(table);
    if (markdown != null) {
      Files.writeString(markdown, table);
    }
    return outcomes.stream().allMatch(FaultInjection.Outcome::clean) ? 0 : 1;
  }
}
