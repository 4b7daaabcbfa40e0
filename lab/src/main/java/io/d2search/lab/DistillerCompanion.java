package io.d2search.lab;

import io.d2search.app.DemoCompanion;
import io.d2search.config.Settings;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The distiller in the all-in-one demo (registered in {@code META-INF/services}): the demo closes the loop. */
public final class DistillerCompanion implements DemoCompanion {
  @Override
  public Started start(Settings settings, PrometheusMeterRegistry registry) {
    DistillerProcess process = DistillerProcess.start(settings, registry);
    return new Started(String.format("Distiller: refreshes the re-ranker from clicks every %d examples (or POST "
        + "http://localhost:%d/refresh); status at http://localhost:%d/status", settings.integer(
            "distiller.refresh.every-examples"), process.port(), process.port()), process);
  }
}
