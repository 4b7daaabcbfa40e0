package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.bundle.ModelBundle;
import io.d2search.config.Settings;
import io.d2search.distill.DjlRuntime;
import io.d2search.embed.Embedder;
import io.d2search.loop.DistillerConfig;
import io.d2search.loop.DistillerService;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.HashMap;
import java.util.Map;

/**
 * The distiller as a running process: its embedder (the {@code model.version} bundle's), the
 * {@link DistillerService} and its HTTP endpoint, from the settings; what {@code distiller} and the demo run.
 * Closing stops all three, HTTP first.
 */
final class DistillerProcess implements AutoCloseable {
  private final Embedder embedder;
  private final DistillerService service;
  private final DistillerHttp http;

  private DistillerProcess(Embedder embedder, DistillerService service, DistillerHttp http) {
    this.embedder = embedder;
    this.service = service;
    this.http = http;
  }

  /** Starts against the broker of setting {@code kafka.bootstrap.servers}, whose topics exist. */
  static DistillerProcess start(Settings settings, PrometheusMeterRegistry registry) {
    DistillerConfig config = DistillerSettings.config(settings);
    Settings s = DistillerSettings.bounded(settings);
    DjlRuntime.start(new DjlRuntime.Settings(null, config.threads(), 1));
    ModelBundle base = Components.serviceBundle(s);
    Embedder embedder = Components.serviceEmbedder(s, base);
    DistillerService service = null;
    try {
      Map<String, Object> kafka = new HashMap<>(s.kafkaClient());
      kafka.put("bootstrap.servers", s.string("kafka.bootstrap.servers"));
      service = DistillerService.start(config, DistillerSettings.ranking(s), kafka, base, embedder,
          DistillerSettings.index(s), texts -> TeacherFactory.forLoop(s, texts, TeacherFactory.cacheDir(s)),
          registry);
      DistillerHttp http = DistillerHttp.start(s.string("http.host"), s.integer("distiller.port"), service,
          config.kind(), registry);
      return new DistillerProcess(embedder, service, http);
    } catch (RuntimeException | Error e) {
      if (service != null) {
        service.close();
      }
      embedder.close();
      throw e;
    }
  }

  DistillerService service() {
    return service;
  }

  int port() {
    return http.port();
  }

  @Override
  public void close() {
    http.close();
    service.close();
    embedder.close();
  }
}
