package io.d2search.teach;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Reads the log-probabilities of the first generated token from an OpenAI-compatible completion response and
 * turns them into {@code P(yes)}.
 *
 * <p>Two response shapes are understood:
 * <ul>
 *   <li>the completions (legacy) shape that vLLM and OpenAI return: {@code choices[0].logprobs} with
 *       {@code tokens}, {@code token_logprobs} and {@code top_logprobs} (a list, per generated token, of objects
 *       mapping token text to log-probability);</li>
 *   <li>the chat-style shape some llama.cpp server versions return on {@code /v1/completions}:
 *       {@code choices[0].logprobs.content[0]} with {@code token}, {@code logprob} and {@code top_logprobs} (a
 *       list of {@code {token, logprob}}).</li>
 * </ul>
 *
 * <p>A token counts as "yes" when, stripped of whitespace and of a leading SentencePiece {@code ▁} or byte-level
 * BPE {@code Ġ} and lower-cased, it is {@code yes} (so {@code " yes"}, {@code "Yes"}, {@code " YES"} all count);
 * likewise "no". The log-probabilities of all variants are added in probability space (log-sum-exp). When one of
 * the two is absent from the listed alternatives it is taken as the smallest listed log-probability minus a
 * margin; when both are absent both get that value, and the score is 0.5.
 */
final class YesNoLogprobs {
  private YesNoLogprobs() {}

  /**
   * The yes/no log-probabilities found in a response.
   *
   * @param zYes log P(yes), summed over spellings; {@code NaN} when absent
   * @param zNo log P(no), summed over spellings; {@code NaN} when absent
   * @param minSeen smallest log-probability listed
   * @param alternatives every listed token and its log-probability, for error messages
   */
  record Found(double zYes, double zNo, double minSeen, Map<String, Double> alternatives) {

    /** {@code softmax([z_yes, z_no] / T)[0]}, with a missing side set to {@code minSeen - margin}. */
    double probability(double temperature, double margin) {
      double yes = Double.isNaN(zYes) ? minSeen - margin : zYes;
      double no = Double.isNaN(zNo) ? minSeen - margin : zNo;
      return sigmoid((yes - no) / temperature);
    }

    boolean bothMissing() {
      return Double.isNaN(zYes) && Double.isNaN(zNo);
    }
  }

  /**
   * Extracts yes/no log-probabilities from a parsed response body.
   *
   * @throws IllegalArgumentException if the body has no choice with log-probabilities in either shape
   */
  static Found parse(JsonNode body) {
    JsonNode choices = body.path("choices");
    if (!choices.isArray() || choices.isEmpty()) {
      throw new IllegalArgumentException("no choices in the response");
    }
    JsonNode logprobs = choices.get(0).path("logprobs");
    if (!logprobs.isObject()) {
      throw new IllegalArgumentException("choices[0].logprobs is missing (does the server support logprobs?)");
    }
    Map<String, Double> alternatives = new LinkedHashMap<>();
    JsonNode top = logprobs.path("top_logprobs");
    JsonNode content = logprobs.path("content");
    if (top.isArray() && !top.isEmpty() && top.get(0).isObject()) {
      top.get(0).properties().forEach(e -> put(alternatives, e.getKey(), e.getValue()));
      JsonNode tokens = logprobs.path("tokens");
      JsonNode tokenLogprobs = logprobs.path("token_logprobs");
      if (tokens.isArray() && !tokens.isEmpty() && tokenLogprobs.isArray() && !tokenLogprobs.isEmpty()) {
        put(alternatives, tokens.get(0).asText(), tokenLogprobs.get(0));
      }
    } else if (content.isArray() && !content.isEmpty()) {
      JsonNode first = content.get(0);
      for (JsonNode alt : first.path("top_logprobs")) {
        put(alternatives, alt.path("token").asText(null), alt.path("logprob"));
      }
      put(alternatives, first.path("token").asText(null), first.path("logprob"));
    } else {
      throw new IllegalArgumentException("choices[0].logprobs has neither top_logprobs nor content");
    }
    if (alternatives.isEmpty()) {
      throw new IllegalArgumentException("choices[0].logprobs lists no token with a numeric log-probability");
    }
    double yes = Double.NaN;
    double no = Double.NaN;
    double min = Double.POSITIVE_INFINITY;
    for (Map.Entry<String, Double> e : alternatives.entrySet()) {
      double lp = e.getValue();
      min = Math.min(min, lp);
      switch (normalize(e.getKey())) {
        case "yes" -> yes = logAddExp(yes, lp);
        case "no" -> no = logAddExp(no, lp);
        default -> { }
      }
    }
    return new Found(yes, no, min, alternatives);
  }

  private static void put(Map<String, Double> map, String token, JsonNode value) {
    if (token != null && value != null && value.isNumber() && Double.isFinite(value.asDouble())) {
      map.putIfAbsent(token, value.asDouble());
    }
  }

  static String normalize(String token) {
    String t = token.strip();
    while (t.startsWith("▁") || t.startsWith("Ġ")) {
      t = t.substring(1);
    }
    return t.strip().toLowerCase(Locale.ROOT);
  }

  /** {@code log(exp(a) + exp(b))} where {@code NaN} stands for log 0. */
  static double logAddExp(double a, double b) {
    if (Double.isNaN(a)) {
      return b;
    }
    double hi = Math.max(a, b);
    return hi + Math.log(Math.exp(a - hi) + Math.exp(b - hi));
  }

  static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }
}
