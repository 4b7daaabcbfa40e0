package io.d2search.teach;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2search.embed.TextHash;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * D2LLM's LLM teacher over HTTP: an OpenAI-compatible completion server (vLLM, llama.cpp server) is asked, per
 * pair, whether the passage answers the question, and the score is {@code softmax([z_yes, z_no] / T)[0]} over the
 * log-probabilities of the first generated token (see {@link YesNoLogprobs} for how spellings and a missing side
 * are handled).
 *
 * <p>Each pair is one {@code POST {baseUrl}/v1/completions} with {@code max_tokens: 1}, {@code temperature: 0},
 * {@code logprobs: topLogprobs}. The passages of one call are sent in parallel (one virtual thread each), with at
 * most {@code maxConcurrency} requests in flight across all calls on this teacher. A request that fails with HTTP
 * 408, 429 or 5xx, an I/O error or a timeout is retried with exponential backoff; any other status, or a 200
 * whose body is not a completion with log-probabilities, fails at once. When any pair fails, the call throws
 * {@link TeacherException} (with the status and an excerpt of the body) and its other requests are cancelled.
 *
 * <p>Thread-safe. {@link #close()} closes the HTTP client.
 */
public final class LlmHttpTeacher implements Teacher {
  private static final Logger log = LoggerFactory.getLogger(LlmHttpTeacher.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int EXCERPT_CHARS = 300;

  private final LlmHttpConfig config;
  private final URI endpoint;
  private final HttpClient http;
  private final Semaphore inFlight;
  private final String id;
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong retries = new AtomicLong();
  private final AtomicLong bothMissing = new AtomicLong();

  public LlmHttpTeacher(LlmHttpConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    this.endpoint = config.completionsUri();
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofMillis(config.requestTimeoutMs())).build();
    this.inFlight = new Semaphore(config.maxConcurrency(), true);
    this.id = "llm-http:" + config.model() + ":prompt-" + TextHash.sha256(config.promptTemplate()).substring(0, 12)
        + String.format(Locale.ROOT, ":T=%s:top=%d:margin=%s", config.temperature(), config.topLogprobs(),
            config.missingLogprobMargin());
  }

  /** {@code llm-http:<model>:prompt-<sha256 of the template, 12 hex>:T=…:top=…:margin=…}. */
  @Override
  public String id() {
    return id;
  }

  public LlmHttpConfig config() {
    return config;
  }

  @Override
  public double[] score(String query, List<String> passages) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(passages, "passages");
    double[] out = new double[passages.size()];
    if (passages.isEmpty()) {
      return out;
    }
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Double>> futures = new ArrayList<>(passages.size());
      for (String passage : passages) {
        String prompt = config.prompt(query, Objects.requireNonNull(passage, "passage"));
        futures.add(pool.submit(() -> scoreOne(prompt)));
      }
      for (int i = 0; i < futures.size(); i++) {
        try {
          out[i] = futures.get(i).get();
        } catch (ExecutionException e) {
          futures.forEach(f -> f.cancel(true));
          Throwable cause = e.getCause();
          if (cause instanceof TeacherException te) {
            throw new TeacherException(te.getMessage(), te);
          }
          throw new TeacherException("LLM teacher failed: " + cause, cause);
        } catch (InterruptedException e) {
          futures.forEach(f -> f.cancel(true));
          Thread.currentThread().interrupt();
          throw new TeacherException("interrupted while waiting for the LLM teacher", e);
        }
      }
    }
    return out;
  }

  /** Requests sent so far, retries included. */
  public long requests() {
    return requests.get();
  }

  /** Retries so far. */
  public long retries() {
    return retries.get();
  }

  /** Responses so far in which neither yes nor no was among the listed alternatives (scored 0.5). */
  public long bothMissing() {
    return bothMissing.get();
  }

  private double scoreOne(String prompt) throws InterruptedException {
    byte[] body = requestBody(prompt);
    String lastFailure = null;
    long retryAfterMs = 0;
    for (int attempt = 0; attempt <= config.maxRetries(); attempt++) {
      if (attempt > 0) {
        retries.incrementAndGet();
        Thread.sleep(backoffMs(attempt, retryAfterMs));
      }
      retryAfterMs = 0;
      HttpResponse<String> response;
      inFlight.acquire();
      try {
        requests.incrementAndGet();
        response = http.send(request(body), HttpResponse.BodyHandlers.ofString());
      } catch (HttpTimeoutException e) {
        lastFailure = "timed out after " + config.requestTimeoutMs() + " ms";
        continue;
      } catch (IOException e) {
        lastFailure = "I/O error: " + e;
        continue;
      } finally {
        inFlight.release();
      }
      int status = response.statusCode();
      if (status == 200) {
        return parse(response.body());
      }
      lastFailure = "HTTP " + status + ": " + excerpt(response.body());
      if (status != 408 && status != 429 && status < 500) {
        throw new TeacherException("LLM teacher " + endpoint + " answered " + lastFailure);
      }
      retryAfterMs = response.headers().firstValue("Retry-After").map(LlmHttpTeacher::retryAfterMs).orElse(0L);
      log.debug("LLM teacher attempt {} failed: {}", attempt + 1, lastFailure);
    }
    throw new TeacherException("LLM teacher " + endpoint + " failed after " + (config.maxRetries() + 1)
        + " attempts; last: " + lastFailure);
  }

  private HttpRequest request(byte[] body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(endpoint)
        .timeout(Duration.ofMillis(config.requestTimeoutMs()))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (config.apiKey() != null) {
      b.header("Authorization", "Bearer " + config.apiKey());
    }
    return b.build();
  }

  private byte[] requestBody(String prompt) {
    ObjectNode req = JSON.createObjectNode();
    req.put("model", config.model());
    req.put("prompt", prompt);
    req.put("max_tokens", 1);
    req.put("temperature", 0);
    req.put("logprobs", config.topLogprobs());
    req.put("n", 1);
    req.put("echo", false);
    req.put("stream", false);
    try {
      return JSON.writeValueAsBytes(req);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private double parse(String body) {
    YesNoLogprobs.Found found;
    try {
      found = YesNoLogprobs.parse(JSON.readTree(body));
    } catch (JsonProcessingException | IllegalArgumentException e) {
      String why = e instanceof JsonProcessingException j ? "not JSON (" + j.getOriginalMessage() + ")" : e.getMessage();
      throw new TeacherException("LLM teacher " + endpoint + " sent a malformed completion: " + why + "; body: "
          + excerpt(body));
    }
    if (found.bothMissing()) {
      long n = bothMissing.incrementAndGet();
      if (n == 1 || Long.bitCount(n) == 1) {
        log.warn("Neither yes nor no among the top {} tokens ({} times so far), scored 0.5; top tokens: {}",
            config.topLogprobs(), n, found.alternatives().keySet());
      }
    }
    return found.probability(config.temperature(), config.missingLogprobMargin());
  }

  private long backoffMs(int attempt, long retryAfterMs) {
    double exp = config.initialBackoffMs() * Math.pow(2, attempt - 1);
    double jittered = exp * (0.75 + 0.5 * ThreadLocalRandom.current().nextDouble());
    return (long) Math.min(config.maxBackoffMs(), Math.max(jittered, retryAfterMs));
  }

  /** Retry-After in delta-seconds; an HTTP date or garbage counts as no hint. */
  private static long retryAfterMs(String value) {
    try {
      return Math.max(0, Long.parseLong(value.trim())) * 1000;
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static String excerpt(String body) {
    if (body == null || body.isEmpty()) {
      return "(empty body)";
    }
    String flat = body.replaceAll("\\s+", " ").strip();
    return flat.length() <= EXCERPT_CHARS ? flat : flat.substring(0, EXCERPT_CHARS) + "…";
  }

  @Override
  public void close() {
    http.close();
  }
}
