package io.d2search.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2search.data.BeirDataset;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Users, simulated: sends judged queries to a running query service over HTTP ({@code POST /search}) and clicks its
 * results ({@code POST /clicks}) as a position-based click model says, so the retraining loop has clicks to learn
 * from whose truth is known (the qrels).
 *
 * <p><b>Click model</b> (position-based, Richardson et al. 2007; Craswell et al. 2008): a result at rank r is
 * examined with probability {@code 1 / r^eta}; an examined result is clicked with probability
 * {@code clickRelevant} when the qrels judge its document relevant (grade ≥ 1), else {@code clickNoise}. A click on a
 * relevant result dwells {@code ~ 30 s · e^N(0, 0.5)}, on another {@code ~ 3 s · e^N(0, 0.5)}, so most noise clicks
 * fall under {@code feedback.min-dwell-ms} (5 s) and are not taken as positives. Seeded: the same plan and results
 * give the same clicks.
 *
 * <p>Rate-limited to {@code queriesPerSecond}. A 4xx or 5xx answer is counted, never retried; the run goes on.
 */
public final class ClickSimulator {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @param queries the judged queries to send, in this order, each once
   * @param qrels query id → document id → grade
   * @param k results asked per search
   * @param eta examination decay ({@code 1 / r^eta}), {@code >= 0}
   * @param clickRelevant click probability of an examined relevant result, in [0, 1]
   * @param clickNoise click probability of an examined non-relevant result, in [0, 1]
   * @param queriesPerSecond searches per second at most, {@code > 0}
   * @param seed seeds the users' choices
   * @param token bearer token with the search and clicks rights; null when the API is open
   */
  public record Plan(Map<String, String> queries, Map<String, Map<String, Integer>> qrels, int k, double eta,
      double clickRelevant, double clickNoise, double queriesPerSecond, long seed, String token) {
    public Plan {
      // The queries are sent in their order (a LinkedHashMap's, a BEIR file's): keep it.
      queries = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(queries));
      qrels = Map.copyOf(qrels);
      if (k < 1 || k > 1000) {
        throw new IllegalArgumentException("k must be in [1, 1000]: " + k);
      }
      if (!(eta >= 0) || !(clickRelevant >= 0 && clickRelevant <= 1) || !(clickNoise >= 0 && clickNoise <= 1)) {
        throw new IllegalArgumentException("eta must be >= 0 and click probabilities in [0, 1]");
      }
      if (!(queriesPerSecond > 0)) {
        throw new IllegalArgumentException("queriesPerSecond must be > 0: " + queriesPerSecond);
      }
    }

    /** The judged queries of a BEIR split, in file order, with the default click model. */
    public static Plan of(BeirDataset data, long seed) {
      return new Plan(new java.util.LinkedHashMap<>(data.queries()), data.qrels(), 10, 1.0, 0.8, 0.05, 20, seed,
          null);
    }
  }

  /**
   * What a run did.
   *
   * @param searches searches answered 200
   * @param clicks clicks the service accepted (202)
   * @param relevantClicks of those, on a document the qrels judge relevant
   * @param longClicks of those, with a dwell of 5 s or more (positives under the default feedback settings)
   * @param refused 4xx answers (searches and clicks)
   * @param failed 5xx answers and requests that got no answer
   * @param seconds wall time of the run
   */
  public record Report(int searches, int clicks, int relevantClicks, int longClicks, int refused, int failed,
      double seconds) {
    /** One line for logs and the console. */
    public String summary() {
      return String.format(java.util.Locale.ROOT, "%d searches, %d clicks (%d on relevant documents, %d of 5 s or "
          + "more), %d refused (4xx), %d failed, %.1f s", searches, clicks, relevantClicks, longClicks, refused,
          failed, seconds);
    }

    /** Both runs' figures together. */
    public Report plus(Report other) {
      return new Report(searches + other.searches, clicks + other.clicks, relevantClicks + other.relevantClicks,
          longClicks + other.longClicks, refused + other.refused, failed + other.failed, seconds + other.seconds);
    }
  }

  private final URI base;
  private final HttpClient http;

  /** @param base the query service's root, e.g. {@code http://localhost:8080} */
  public ClickSimulator(URI base) {
    this.base = Objects.requireNonNull(base, "base");
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  /**
   * Runs the plan.
   *
   * @param progress called after each query with the number done
   * @throws IOException if the service cannot be reached at all
   */
  public Report run(Plan plan, Consumer<Integer> progress) throws IOException, InterruptedException {
    Random random = new Random(plan.seed());
    long started = System.nanoTime();
    long intervalNanos = (long) (1e9 / plan.queriesPerSecond());
    int searches = 0;
    int clicks = 0;
    int relevant = 0;
    int longClicks = 0;
    int refused = 0;
    int failed = 0;
    int done = 0;
    for (Map.Entry<String, String> q : plan.queries().entrySet()) {
      long due = started + done * intervalNanos;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
      ObjectNode ask = JSON.createObjectNode().put("query", q.getValue()).put("k", plan.k());
      HttpResponse<String> answer = post(plan, "/search", ask);
      done++;
      if (answer == null || answer.statusCode() >= 500) {
        failed++;
        progress.accept(done);
        continue;
      }
      if (answer.statusCode() != 200) {
        refused++;
        progress.accept(done);
        continue;
      }
      searches++;
      JsonNode body = JSON.readTree(answer.body());
      Map<String, Integer> judged = plan.qrels().getOrDefault(q.getKey(), Map.of());
      List<JsonNode> results = new ArrayList<>();
      body.path("results").forEach(results::add);
      for (int i = 0; i < results.size(); i++) {
        int rank = i + 1;
        if (random.nextDouble() >= Math.pow(rank, -plan.eta())) {
          continue; // not examined
        }
        boolean isRelevant = judged.getOrDefault(results.get(i).path("docId").asText(), 0) > 0;
        if (random.nextDouble() >= (isRelevant ? plan.clickRelevant() : plan.clickNoise())) {
          continue;
        }
        long dwell = Math.round((isRelevant ? 30_000 : 3_000) * Math.exp(0.5 * random.nextGaussian()));
        ObjectNode click = JSON.createObjectNode().put("queryId", body.path("queryId").asText())
            .put("passageId", results.get(i).path("passageId").asText()).put("rank", rank).put("dwellMs", dwell);
        HttpResponse<String> accepted = post(plan, "/clicks", click);
        if (accepted == null || accepted.statusCode() >= 500) {
          failed++;
        } else if (accepted.statusCode() != 202) {
          refused++;
        } else {
          clicks++;
          relevant += isRelevant ? 1 : 0;
          longClicks += dwell >= 5_000 ? 1 : 0;
        }
      }
      progress.accept(done);
    }
    return new Report(searches, clicks, relevant, longClicks, refused, failed, (System.nanoTime() - started) / 1e9);
  }

  /** @return null when the request got no answer */
  private HttpResponse<String> post(Plan plan, String path, ObjectNode body) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
    if (plan.token() != null && !plan.token().isBlank()) {
      request.header("Authorization", "Bearer " + plan.token());
    }
    try {
      return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (java.net.ConnectException e) {
      throw new IOException("no d2search query service at " + base + " (start one with ./d2search demo)", e);
    } catch (java.net.http.HttpTimeoutException e) {
      return null;
    }
  }
}
