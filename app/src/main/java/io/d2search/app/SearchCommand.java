package io.d2search.app;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code search}: query a running query-service over HTTP and print the ranked passages. */
@Command(name = "search", mixinStandardHelpOptions = true, description = "Search a running d2search over HTTP.")
public final class SearchCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Parameters(arity = "1..*", paramLabel = "QUERY", description = "The query (words are joined with spaces).")
  String[] words;

  @Option(names = {"-k", "--k"}, defaultValue = "5", description = "How many passages (default: ${DEFAULT-VALUE}).")
  int k;

  @Option(names = "--url", defaultValue = "http://localhost:8080",
      description = "Base URL of the query service (default: ${DEFAULT-VALUE}).")
  URI url;

  @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:D2SEARCH_TOKEN}",
      description = "Bearer token with the search right, when the service has http.tokens (default: $D2SEARCH_TOKEN).")
  String token;

  @Option(names = "--json", description = "Print the raw JSON response.")
  boolean json;

  @Option(names = "--no-rerank", description = "Ask for the first stage's order, without the model's IEM re-ranking.")
  boolean noRerank;

  @Option(names = "--mode", paramLabel = "MODE",
      description = "First stage: vector, keyword or hybrid (default: the service's search.mode).")
  String mode;

  @Option(names = "--filter", paramLabel = "JSON",
      description = "Attribute filter, e.g. '{\"lang\": \"en\", \"year\": {\"gte\": 2015}}' (README, \"Filters\").")
  String filter;

  @Option(names = "--explain", description = "Show each stage's rank and score per result.")
  boolean explain;

  @Override
  public Integer call() throws IOException, InterruptedException {
    ObjectNode ask = JSON.createObjectNode().put("query", String.join(" ", words)).put("k", k)
        .put("rerank", !noRerank).put("explain", explain);
    if (mode != null) {
      ask.put("mode", mode);
    }
    if (filter != null) {
      try {
        ask.set("filter", JSON.readTree(filter));
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("--filter is not JSON: " + e.getOriginalMessage());
      }
    }
    String body = JSON.writeValueAsString(ask);
    HttpRequest.Builder builder = HttpRequest.newBuilder(url.resolve("/search")).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null && !token.isBlank()) {
      builder.header("Authorization", "Bearer " + token);
    }
    HttpRequest request = builder.build();
    HttpResponse<String> response;
    try {
      response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      throw new IllegalArgumentException("no d2search query service at " + url + " (start one with ./d2search demo)");
    }
    if (json || response.statusCode() != 200) {
      System.out.println(response.body());
      return response.statusCode() == 200 ? 0 : 1;
    }
    JsonNode root = JSON.readTree(response.body());
    System.out.printf("model v%s, %s ms, %s retrieval, %s%n", root.path("modelVersion").asText(),
        root.path("tookMs").asText(), root.path("mode").asText(), root.path("reranked").asBoolean()
            ? "re-ranked by the IEM head (score = IEM logit)" : "first-stage order");
    int rank = 1;
    for (JsonNode hit : root.path("results")) {
      String text = hit.path("text").asText();
      System.out.printf("%2d. %.4f  %s  [%s]%s%n      %s%n", rank++, hit.path("score").asDouble(),
          hit.path("title").asText(""), hit.path("passageId").asText(),
          hit.path("attributes").isEmpty() ? "" : "  " + hit.path("attributes"),
          text.length() > 200 ? text.substring(0, 200) + "..." : text);
      JsonNode e = hit.path("explain");
      if (!e.isMissingNode() && !e.isNull()) {
        System.out.printf("      vector %s  keyword %s  first stage #%d %.5f%s%s%n", stage(e.path("vector")),
            stage(e.path("keyword")), e.path("firstStage").path("rank").asInt(),
            e.path("firstStage").path("score").asDouble(),
            e.path("fusion").isTextual() ? "  (" + e.path("fusion").asText() + ")" : "",
            e.path("iem").isNumber() ? String.format("  IEM %.4f", e.path("iem").asDouble()) : "");
      }
    }
    return 0;
  }

  private static String stage(JsonNode s) {
    return s.isObject() ? String.format("#%d %.4f", s.path("rank").asInt(), s.path("score").asDouble()) : "-";
  }
}
