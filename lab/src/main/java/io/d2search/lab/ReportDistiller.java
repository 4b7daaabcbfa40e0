package io.d2search.lab;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.bench.ServiceProcess;
import io.d2search.events.ReleaseKind;
import io.d2search.loop.DistillerService;
import io.d2search.loop.RefreshReport;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The distiller {@code loop-report} drives: in its own JVM (as {@code deploy/} runs it, with a heap limit and a lower
 * scheduling priority, so its peak memory and its effect on search are the distiller's own) or inside the report's
 * JVM. Either way the report asks it the same four things.
 */
interface ReportDistiller extends AutoCloseable {

  /** Until it has read the embeddings, the feedback and the releases so far; false at the timeout. */
  boolean awaitCaughtUp(Duration timeout) throws Exception;

  DistillerService.Status status() throws Exception;

  /** Runs a refresh of {@code kind} now and waits for its report. */
  RefreshReport refresh(ReleaseKind kind, Duration timeout) throws Exception;

  /** Peak resident memory so far, in GB, of the process the distiller runs in (NaN where not measurable). */
  double peakResidentGb();

  /** Its own peak, or the whole JVM's (which holds the broker and the query service too). */
  String memoryLabel();

  @Override
  void close();

  /** The distiller inside this JVM: its memory is not its own (the broker and the query service share it). */
  static ReportDistiller inProcess(DistillerProcess process) {
    DistillerService service = process.service();
    return new ReportDistiller() {
      @Override
      public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return service.awaitCaughtUp(timeout);
      }

      @Override
      public DistillerService.Status status() {
        return service.status();
      }

      @Override
      public RefreshReport refresh(ReleaseKind kind, Duration timeout) throws Exception {
        return service.refreshNow(kind).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      }

      @Override
      public double peakResidentGb() {
        return LoopReportCommand.peakResidentGb();
      }

      @Override
      public String memoryLabel() {
        return "JVM peak RSS GB";
      }

      @Override
      public void close() {
        process.close();
      }
    };
  }

  /**
   * {@code distiller} in a JVM of its own, driven over its HTTP endpoint ({@code GET /status}, {@code POST /refresh},
   * {@code GET /health}).
   *
   * @param config its settings file (the report's settings: same broker, data and teacher cache directories)
   * @param port its {@code distiller.port}
   * @param launch its heap limit and niceness
   */
  static ReportDistiller ownProcess(Path config, int port, ServiceProcess.Launch launch) {
    return new OwnProcess(new ServiceProcess("distiller", config, config.resolveSibling("distiller.log"), launch),
        URI.create("http://127.0.0.1:" + port));
  }

  /** The distiller's own JVM. */
  final class OwnProcess implements ReportDistiller {
    private static final ObjectMapper JSON = new ObjectMapper()
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private final ServiceProcess process;
    private final URI base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private OwnProcess(ServiceProcess process, URI base) {
      this.process = process;
      this.base = base;
      process.start();
    }

    @Override
    public boolean awaitCaughtUp(Duration timeout) throws Exception {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        alive();
        try {
          if (send(HttpRequest.newBuilder(base.resolve("/health")).GET()).statusCode() == 200) {
            return true;
          }
        } catch (IOException e) {
          // not listening yet
        }
        Thread.sleep(500);
      }
      return false;
    }

    @Override
    public DistillerService.Status status() throws Exception {
      alive();
      HttpResponse<String> r = send(HttpRequest.newBuilder(base.resolve("/status")).GET());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("distiller GET /status answered " + r.statusCode() + ": " + r.body());
      }
      return JSON.readValue(r.body(), DistillerService.Status.class);
    }

    @Override
    public RefreshReport refresh(ReleaseKind kind, Duration timeout) throws Exception {
      List<RefreshReport> before = status().reports();
      RefreshReport last = before.isEmpty() ? null : before.getLast();
      HttpResponse<String> asked = send(HttpRequest.newBuilder(base.resolve("/refresh?kind="
          + kind.name().toLowerCase(Locale.ROOT))).POST(HttpRequest.BodyPublishers.noBody()));
      if (asked.statusCode() != 202) {
        throw new IllegalStateException("distiller POST /refresh answered " + asked.statusCode() + ": "
            + asked.body());
      }
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        DistillerService.Status now = status();
        List<RefreshReport> reports = now.reports();
        if (now.running() == null && !reports.isEmpty() && !reports.getLast().equals(last)) {
          return reports.getLast();
        }
        Thread.sleep(1000);
      }
      throw new IllegalStateException("the distiller's " + kind + " refresh did not end in " + timeout);
    }

    @Override
    public double peakResidentGb() {
      long bytes = process.peakResidentBytes(); // -1 once it has ended
      return bytes < 0 ? Double.NaN : bytes / (1024.0 * 1024.0 * 1024.0);
    }

    @Override
    public String memoryLabel() {
      return "distiller peak RSS GB";
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
      return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Fails with the end of its log when the JVM is gone (a start-up error, an out-of-memory kill). */
    private void alive() {
      if (!process.alive()) {
        throw new IllegalStateException("the distiller's JVM ended; its log (" + process.log() + ") ends:\n"
            + process.tail(30));
      }
    }

    @Override
    public void close() {
      process.close();
    }
  }

  /** Where {@link #ownProcess}'s settings go: a file beside its log in the run directory. */
  static Path writeConfig(Path runDir, java.util.Map<String, String> settings) throws IOException {
    Files.createDirectories(runDir);
    return ServiceProcess.writeConfig(runDir.resolve("distiller.properties"), settings);
  }
}
