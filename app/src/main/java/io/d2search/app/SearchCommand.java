package io.d2search.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
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

  @Option(names = "--no-rerank", description = "Ask for the HNSW order, without the model's IEM re-ranking.")
  boolean noRerank;

  @Override
  public Integer call() throws IOException, InterruptedException {
    String body = JSON.writeValueAsString(Map.of("query", String.join(" ", words), "k", k, "rerank", !noRerank));
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
    System.out.printf("model v%s, %s ms, %s%n", root.path("modelVersion").asText(), root.path("tookMs").asText(),
        root.path("reranked").asBoolean() ? "re-ranked by the IEM head (score = IEM logit)" : "HNSW order");
    int rank = 1;
    for (JsonNode hit : root.path("results")) {
      String text = hit.path("text").asText();
      System.out.printf("%2d. %.4f  %s  [%s]%n      %s%n", rank++, hit.path("score").asDouble(),
          hit.path("title").asText(""), hit.path("passageId").asText(),
          text.length() > 200 ? text.substring(0, 200) + "..." : text);
    }
    return 0;
  }
}
