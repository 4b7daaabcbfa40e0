package io.d2search.serve;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The health of one part of a deployment, as {@code GET /health} reports it beside the index's own.
 *
 * @param name the part, e.g. {@code indexer}
 * @param ready whether it is doing its job and caught up
 * @param status a word for people and probes: {@code ready}, {@code catching-up}, {@code failing}, {@code stopped}
 * @param detail why it is not ready, or empty
 * @param lag records waiting, by topic (empty when unknown)
 */
public record ComponentHealth(String name, boolean ready, String status, String detail, Map<String, Long> lag) {
  public ComponentHealth {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(status, "status");
    detail = detail == null ? "" : detail;
    lag = Map.copyOf(Objects.requireNonNull(lag, "lag"));
  }

  /** The JSON body {@code /health} answers for this part: name, status, ready, detail (when any), lag. */
  public Map<String, Object> body() {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("name", name);
    body.put("status", status);
    body.put("ready", ready);
    if (!detail.isEmpty()) {
      body.put("detail", detail);
    }
    body.put("lag", lag);
    return body;
  }
}
