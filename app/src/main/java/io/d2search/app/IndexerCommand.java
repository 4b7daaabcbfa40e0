package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.embed.Embedder;
import io.d2search.indexer.Indexer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code indexer}: the Kafka Streams indexer against a Kafka cluster. */
@Command(name = "indexer", mixinStandardHelpOptions = true,
    description = "Run the indexer: documents -> validate -> chunk -> passages -> embed -> embeddings "
        + "(Kafka Streams, exactly-once). Scale by running more instances, up to the topic partitions.")
public final class IndexerCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(IndexerCommand.class);

  @Mixin ConfigOptions config;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "Kafka (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Override
  public Integer call() throws InterruptedException {
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers);
    CorpusIngester.checkReachable(s.string("kafka.bootstrap.servers"), s.kafkaClient());
    try (Lifecycle life = new Lifecycle()) {
      TopicSetup.forIndexer(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      Embedder embedder = life.add(Components.serviceEmbedder(s));
      Indexer indexer = life.add(Components.newIndexer(s, embedder, registry));
      indexer.start();
      int metricsPort = s.integer("indexer.metrics-port");
      if (metricsPort > 0) {
        MetricsEndpoint metrics = life.add(MetricsEndpoint.start(metricsPort, registry,
            Components.indexerHealth(s, indexer)));
        log.info("Indexer metrics on http://localhost:{}/metrics, health on /health", metrics.port());
      }
      log.info("Indexer running against {} (model v{}); Ctrl-C to stop", s.string("kafka.bootstrap.servers"),
          embedder.info().version());
      life.awaitShutdown();
    }
    return 0;
  }
}
