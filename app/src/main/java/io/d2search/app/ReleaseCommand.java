package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.events.ModelRelease;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code release}: publish a bundle of the bundle store as the current model release. */
@Command(name = "release", mixinStandardHelpOptions = true,
    description = "Publish a bundle of model.bundles-dir as the CURRENT model release. Its kind follows from its "
        + "passage vectors: HEADS when it embeds passages as the current release does (the query services swap the "
        + "re-ranker), FULL otherwise (the indexer re-embeds every passage into embeddings.<version>, the query "
        + "services switch once their new index covers them). Releasing an earlier version rolls back.")
public final class ReleaseCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Parameters(paramLabel = "VERSION", description = "The bundle's version: its directory under model.bundles-dir.")
  String version;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "Kafka (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Option(names = "--dry-run", description = "Print the release it would publish, and publish nothing.")
  boolean dryRun;

  @Override
  public Integer call() throws InterruptedException {
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers);
    CorpusIngester.checkReachable(s.string("kafka.bootstrap.servers"), s.kafkaClient());
    TopicSetup.forQueryService(s); // model-releases, compacted, if nobody created it yet
    ModelRelease release;
    try {
      release = ReleasePublisher.publish(s, version, dryRun);
    } catch (IllegalStateException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    System.out.println((dryRun ? "Would publish " : "Published ") + ReleasePublisher.describe(release));
    return 0;
  }
}
