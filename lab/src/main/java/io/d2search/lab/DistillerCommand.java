package io.d2search.lab;

import io.d2search.app.ConfigOptions;
import io.d2search.app.Lifecycle;
import io.d2search.app.TopicSetup;
import io.d2search.config.Settings;
import io.d2search.loop.DistillerService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code distiller}: the retraining loop's distiller service ({@link DistillerService}) against a Kafka cluster, with
 * its HTTP endpoint ({@link DistillerHttp}).
 */
@Command(name = "distiller", mixinStandardHelpOptions = true,
    description = "Run the distiller service: training-pairs -> refresh of the IEM head (teacher labels, DJL "
        + "training) -> offline gate on held-out feedback -> model-releases, where the query services hot-swap it. "
        + "GET /status, POST /refresh, GET /metrics, GET /health on distiller.port.")
final class DistillerCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(DistillerCommand.class);

  @Mixin ConfigOptions config;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "Kafka (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Override
  public Integer call() throws InterruptedException {
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers);
    try (Lifecycle life = new Lifecycle()) {
      // Its inputs: embeddings (the indexer's), training-pairs (the feedback join's), model-releases.
      TopicSetup.forIndexer(s);
      TopicSetup.forQueryService(s);
      TopicSetup.forFeedback(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      DistillerProcess process = life.add(DistillerProcess.start(s, registry));
      log.info("Distiller on http://{}:{}/status (POST /refresh to refresh now); Ctrl-C to stop",
          s.string("http.host"), process.port());
      life.awaitShutdown();
    }
    return 0;
  }
}
