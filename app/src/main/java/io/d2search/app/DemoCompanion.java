package io.d2search.app;

import io.d2search.config.Settings;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * A service the all-in-one {@code demo} also runs when its jar is on the class path, found with
 * {@link java.util.ServiceLoader}: how the lab's distiller joins the demo without the serving jar depending on the
 * lab (the serving image's demo runs without it).
 */
public interface DemoCompanion {
  /**
   * Starts the service against the demo's broker (setting {@code kafka.bootstrap.servers}).
   *
   * @param settings the demo's settings
   * @param registry the demo's metrics registry
   * @return what stops it; closed before the demo's own services
   * @throws Exception whatever keeps it from starting: the demo fails with it
   */
  Started start(Settings settings, PrometheusMeterRegistry registry) throws Exception;

  /**
   * A started companion.
   *
   * @param description one line for the demo's start-up banner (e.g. where its endpoint listens)
   * @param stop stops it
   */
  record Started(String description, AutoCloseable stop) {}
}
