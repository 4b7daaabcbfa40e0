package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.Embedder;
import io.d2search.serve.QueryService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code query-service}: materialise embeddings into Lucene HNSW and serve search over HTTP. */
@Command(name = "query-service", mixinStandardHelpOptions = true,
    description = "Run the query service: materialise the embeddings topic into a local Lucene HNSW index, "
        + "serve POST /search, POST /clicks, GET /health, /metrics, /models, and hot-swap the re-ranker to each HEADS "
        + "release on model-releases (setting model.releases.enabled).")
public final class QueryServiceCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(QueryServiceCommand.class);

  @Mixin ConfigOptions config;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "Kafka (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Option(names = "--port", description = "HTTP port (default: setting http.port).")
  Integer port;

  @Override
  public Integer call() throws InterruptedException {
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers).with("http.port", port);
    CorpusIngester.checkReachable(s.string("kafka.bootstrap.servers"), s.kafkaClient());
    try (Lifecycle life = new Lifecycle()) {
      TopicSetup.forQueryService(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      life.add(registry::close);
      ModelBundle bundle = Components.serviceBundle(s);
      Embedder embedder = life.add(Components.queryEmbedder(s, bundle));
      QueryService service = life.add(Components.startQueryService(s, bundle, embedder, registry));
      log.info("Query service on http://localhost:{} (model v{}), catching up with the embeddings topic{}; "
          + "GET /health turns 200 when it has", service.port(), embedder.info().version(),
          service.releases().isPresent() ? " and model-releases" : "");
      life.awaitShutdown();
    }
    return 0;
  }
}
