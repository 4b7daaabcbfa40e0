package io.d2search.indexer;

import java.util.Map;
import java.util.Objects;

/**
 * The indexer's health ({@link Indexer#health(long)}).
 *
 * @param ready both applications RUNNING, no recent stream thread death, and at most the allowed lag
 * @param status {@code ready}, {@code starting}, {@code catching-up}, {@code failing} (stream threads died within
 *     the failure window), {@code stopped}, or {@code unknown} (the broker did not answer for the lag)
 * @param detail why it is not ready, or empty
 * @param states the two applications' states
 * @param lag records not yet processed: {@code documents} by the chunker, {@code passages} by the embedder
 */
public record IndexerHealth(boolean ready, String status, String detail, Indexer.State states, Map<String, Long> lag) {
  public IndexerHealth {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(detail, "detail");
    Objects.requireNonNull(states, "states");
    lag = Map.copyOf(lag);
  }
}
