package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.feedback.FeedbackJob;
import io.d2search.serve.ComponentHealth;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code feedback}: the feedback join (impressions x clicks -> training-pairs) against a Kafka cluster. */
@Command(name = "feedback", mixinStandardHelpOptions = true,
    description = "Run the feedback join: impressions x clicks -> training-pairs (Kafka Streams, exactly-once; "
        + "unusable records -> feedback.dlq). Scale by running more instances, up to the topic partitions.")
public final class FeedbackCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(FeedbackCommand.class);

  @Mixin ConfigOptions config;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "Kafka (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Override
  public Integer call() throws InterruptedException {
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers);
    CorpusIngester.checkReachable(s.string("kafka.bootstrap.servers"), s.kafkaClient());
    try (Lifecycle life = new Lifecycle()) {
      TopicSetup.forQueryService(s); // its inputs, impressions and clicks, with the partitions it joins on
      TopicSetup.forFeedback(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      FeedbackJob job = life.add(Components.feedback(s, registry));
      job.start();
      int metricsPort = s.integer("feedback.metrics-port");
      if (metricsPort > 0) {
        MetricsEndpoint metrics = life.add(MetricsEndpoint.start(metricsPort, registry, () -> health(job)));
        log.info("Feedback metrics on http://localhost:{}/metrics, health on /health", metrics.port());
      }
      log.info("Feedback join running against {}; Ctrl-C to stop", s.string("kafka.bootstrap.servers"));
      life.awaitShutdown();
    }
    return 0;
  }

  /** Ready while the application runs; rebalancing is catching up; anything else is not doing its job. */
  static ComponentHealth health(FeedbackJob job) {
    KafkaStreams.State state = job.state();
    return switch (state) {
      case RUNNING -> new ComponentHealth("feedback", true, "ready", "", Map.of());
      case CREATED, REBALANCING -> new ComponentHealth("feedback", false, "catching-up", state.name(), Map.of());
      default -> new ComponentHealth("feedback", false, "stopped", state.name(), Map.of());
    };
  }
}
