package io.d2search.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.bench.chaos.FaultInjection.Fault;
import io.d2search.bench.chaos.FaultInjection.Outcome;
import io.d2search.ingest.CorpusDocument;
import io.d2search.ingest.CorpusFile;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault-injection suite's short run, in CI: the indexer and the query service in JVMs of their own on an embedded
 * KRaft broker; while 40 documents are created, updated and deleted and searches run, the indexer is killed with -9,
 * then the query service, then the broker restarts. The index must equal the clean run's (every passage once, same
 * text and vector), nothing dead-lettered, no 5xx, each fault recovered from. {@code ./d2search chaos} runs
 * the whole suite with its table.
 */
class FaultInjectionIT {
  @TempDir Path dir;

  @Test
  @Timeout(900)
  void killsAndABrokerRestartLoseAndDuplicateNothing() throws Exception {
    Path sample = dir.resolve("sample.jsonl");
    try (InputStream in = FaultInjectionIT.class.getResourceAsStream("/sample/documents.jsonl")) {
      Files.copy(in, sample);
    }
    List<CorpusDocument> docs = new ArrayList<>();
    CorpusFile.forEachDocument(sample, d -> {
      if (docs.size() < 40) {
        docs.add(d);
      }
    });
    FaultInjection suite = new FaultInjection(new FaultInjection.Options(dir.resolve("runs"), docs, 0.25, 0.15, 1.5,
        Duration.ofSeconds(1), Duration.ofMinutes(4), Long.getLong("tests.seed", 7L), true), System.out::println);
    List<Outcome> outcomes = suite.run(List.of(new FaultInjection.Scenario("mixed",
        List.of(Fault.INDEXER_KILL, Fault.QUERY_SERVICE_KILL, Fault.BROKER_RESTART))));
    System.out.print(suite.table(outcomes));

    Outcome clean = outcomes.get(0);
    assertThat(clean.expectedPassages()).isGreaterThan(40);
    assertThat(clean.clean()).as(FaultInjection.describe(clean)).isTrue();
    Outcome mixed = outcomes.get(1);
    assertThat(mixed.clean()).as(FaultInjection.describe(mixed)).isTrue();
    assertThat(mixed.indexedPassages()).isEqualTo(clean.expectedPassages());
    assertThat(mixed.recoverySeconds()).hasSize(3).allSatisfy(s -> assertThat(s).isFinite());
    assertThat(mixed.searches()).isGreaterThan(50);
  }
}
