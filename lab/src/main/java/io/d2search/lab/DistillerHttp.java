package io.d2search.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.d2search.events.ReleaseKind;
import io.d2search.loop.DistillerService;
import io.d2search.loop.RefreshReport;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The distiller's HTTP endpoint: {@code GET /status} (what serves, the feedback held, the latest refresh reports),
 * {@code POST /refresh[?kind=heads|full]} (start a refresh of that kind now, by default {@code distiller.refresh.kind};
 * 202 with its version, or the running one's; 400 for another kind), {@code GET /metrics}
 * (Prometheus), {@code GET /health} (200 once its replica and feedback have caught up, else 503). Other methods
 * answer 405, other paths 404, each with a JSON message. The JDK's server: a handful of operator calls.
 */
final class DistillerHttp implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpServer server;

  private DistillerHttp(HttpServer server) {
    this.server = server;
  }

  /**
   * @param defaultKind what {@code POST /refresh} trains when it names no kind ({@code distiller.refresh.kind})
   */
  static DistillerHttp start(String host, int port, DistillerService service, ReleaseKind defaultKind,
      PrometheusMeterRegistry registry) {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(host, port), 0);
    } catch (BindException e) {
      throw new IllegalStateException("distiller.port " + port + " on " + host + " is in use (" + e.getMessage()
          + "); set distiller.port (or D2SEARCH_DISTILLER_PORT) to a free port", e);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot listen on " + host + ":" + port, e);
    }
    server.createContext("/", exchange -> {
      try (exchange) {
        String path = exchange.getRequestURI().getPath();
        String method = exchange.getRequestMethod();
        switch (path) {
          case "/status" -> {
            if (allowed(exchange, method, "GET")) {
              json(exchange, 200, service.status());
            }
          }
          case "/refresh" -> {
            if (allowed(exchange, method, "POST")) {
              ReleaseKind kind = kind(exchange.getRequestURI().getRawQuery(), defaultKind);
              if (kind == null) {
                json(exchange, 400, Map.of("error", "kind must be heads or full, e.g. POST /refresh?kind=full"));
                return;
              }
              CompletableFuture<RefreshReport> refresh = service.refreshNow(kind);
              json(exchange, 202, Map.of("refreshing", String.valueOf(service.status().running()),
                  "done", refresh.isDone()));
            }
          }
          case "/health" -> {
            if (allowed(exchange, method, "GET")) {
              DistillerService.Status status = service.status();
              json(exchange, status.caughtUp() ? 200 : 503, Map.of("status", status.caughtUp() ? "ready"
                  : "catching-up", "passages", status.passages(), "feedbackLists", status.feedbackLists()));
            }
          }
          case "/metrics" -> {
            if (allowed(exchange, method, "GET")) {
              byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
              exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
              exchange.sendResponseHeaders(200, body.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
              }
            }
          }
          default -> json(exchange, 404, Map.of("error", "no such path: " + path
              + " (GET /status, POST /refresh, GET /metrics, GET /health)"));
        }
      } catch (RuntimeException e) {
        // Never a stack trace to the client; the log has it.
        org.slf4j.LoggerFactory.getLogger(DistillerHttp.class).warn("Distiller request failed", e);
      }
    });
    server.start();
    return new DistillerHttp(server);
  }

  /** The kind asked for ({@code kind=heads|full}); the configured one when not asked; null when not a kind. */
  private static ReleaseKind kind(String query, ReleaseKind defaultKind) {
    if (query == null || query.isEmpty()) {
      return defaultKind;
    }
    ReleaseKind asked = defaultKind;
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String name = eq < 0 ? pair : pair.substring(0, eq);
      if (!name.equals("kind")) {
        continue;
      }
      String value = eq < 0 ? "" : java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      asked = switch (value.toLowerCase(java.util.Locale.ROOT)) {
        case "heads" -> ReleaseKind.HEADS;
        case "full" -> ReleaseKind.FULL;
        default -> null;
      };
      if (asked == null) {
        return null;
      }
    }
    return asked;
  }

  private static boolean allowed(HttpExchange exchange, String method, String expected) throws IOException {
    if (method.equals(expected)) {
      return true;
    }
    exchange.getResponseHeaders().set("Allow", expected);
    json(exchange, 405, Map.of("error", method + " not allowed; use " + expected));
    return false;
  }

  private static void json(HttpExchange exchange, int status, Object body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
