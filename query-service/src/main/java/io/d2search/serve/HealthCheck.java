package io.d2search.serve;

/**
 * A part of the deployment whose health {@code GET /health} includes: in the all-in-one demo, the indexer running
 * in the same JVM. Called on every health request; it should answer within a second or so.
 */
@FunctionalInterface
public interface HealthCheck {
  ComponentHealth check();
}
