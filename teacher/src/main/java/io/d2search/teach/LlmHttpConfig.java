package io.d2search.teach;

import java.net.URI;
import java.util.Objects;

/**
 * How to reach and ask an OpenAI-compatible completion server (vLLM, llama.cpp server) for D2LLM's yes/no
 * judgement.
 *
 * @param baseUrl server root, e.g. {@code http://127.0.0.1:8000}; requests go to {@code {baseUrl}/v1/completions}
 * @param model the {@code model} field of each request; also part of the teacher id, so it should name the exact
 *     weights (e.g. {@code Qwen/Qwen2.5-7B-Instruct}, or a quantisation-specific name)
 * @param promptTemplate the prompt, with the placeholders {@code {query}} and {@code {passage}} (each exactly
 *     once); filled in one pass, so braces inside the texts are left alone
 * @param temperature T in {@code softmax([z_yes, z_no] / T)}; 1 by default. Not the sampling temperature, which
 *     is always 0
 * @param topLogprobs the {@code logprobs} request field: how many alternatives the server lists for the one
 *     generated token (vLLM allows up to 20 by default, OpenAI up to 5)
 * @param missingLogprobMargin when only one of yes/no appears among the top alternatives, the missing one is taken
 *     as the smallest listed log-probability minus this margin (nats): the true value is below every listed one
 * @param requestTimeoutMs limit on one HTTP request, from sending to the whole response body
 * @param maxRetries retries after a failed attempt (HTTP 408, 429, 5xx, I/O error or timeout); 0 means one
 *     attempt
 * @param initialBackoffMs wait before the first retry; doubled at each further retry (with ±25% jitter), and at
 *     least what a {@code Retry-After} header asks, capped by {@code maxBackoffMs}
 * @param maxBackoffMs cap on one wait between attempts
 * @param maxConcurrency most requests in flight at once, shared by every call on one teacher
 * @param apiKey sent as {@code Authorization: Bearer …} when not null
 */
public record LlmHttpConfig(
    URI baseUrl, String model, String promptTemplate, double temperature, int topLogprobs,
    double missingLogprobMargin, long requestTimeoutMs, int maxRetries, long initialBackoffMs, long maxBackoffMs,
    int maxConcurrency, String apiKey) {

  /** D2LLM's question, in English, for a base or instruction-tuned model without a chat template. */
  public static final String DEFAULT_PROMPT =
      "Passage: {passage}\nQuestion: {query}\nDoes the passage answer the question? Answer yes or no.\nAnswer:";

  static final String QUERY = "{query}";
  static final String PASSAGE = "{passage}";

  public LlmHttpConfig {
    Objects.requireNonNull(baseUrl, "baseUrl");
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(promptTemplate, "promptTemplate");
    if (!"http".equals(baseUrl.getScheme()) && !"https".equals(baseUrl.getScheme())) {
      throw new IllegalArgumentException("baseUrl must be http or https: " + baseUrl);
    }
    if (model.isBlank()) {
      throw new IllegalArgumentException("model must not be blank");
    }
    for (String placeholder : new String[] {QUERY, PASSAGE}) {
      int at = promptTemplate.indexOf(placeholder);
      if (at < 0 || promptTemplate.indexOf(placeholder, at + 1) >= 0) {
        throw new IllegalArgumentException("promptTemplate must contain " + placeholder + " exactly once");
      }
    }
    if (!(temperature > 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be > 0: " + temperature);
    }
    if (topLogprobs < 2) {
      throw new IllegalArgumentException("topLogprobs must be >= 2: " + topLogprobs);
    }
    if (!(missingLogprobMargin >= 0) || Double.isInfinite(missingLogprobMargin)) {
      throw new IllegalArgumentException("missingLogprobMargin must be >= 0: " + missingLogprobMargin);
    }
    if (requestTimeoutMs < 1) {
      throw new IllegalArgumentException("requestTimeoutMs must be >= 1: " + requestTimeoutMs);
    }
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries must be >= 0: " + maxRetries);
    }
    if (initialBackoffMs < 0 || maxBackoffMs < initialBackoffMs) {
      throw new IllegalArgumentException(
          "need 0 <= initialBackoffMs <= maxBackoffMs: " + initialBackoffMs + ", " + maxBackoffMs);
    }
    if (maxConcurrency < 1) {
      throw new IllegalArgumentException("maxConcurrency must be >= 1: " + maxConcurrency);
    }
  }

  /**
   * Defaults: {@link #DEFAULT_PROMPT}, T = 1, 20 top log-probs, margin 1 nat, 60 s per request, 4 retries from
   * 500 ms up to 10 s, 8 requests in flight, no API key.
   */
  public static LlmHttpConfig of(URI baseUrl, String model) {
    return new LlmHttpConfig(baseUrl, model, DEFAULT_PROMPT, 1.0, 20, 1.0, 60_000, 4, 500, 10_000, 8, null);
  }

  public LlmHttpConfig withPromptTemplate(String template) {
    return new LlmHttpConfig(baseUrl, model, template, temperature, topLogprobs, missingLogprobMargin,
        requestTimeoutMs, maxRetries, initialBackoffMs, maxBackoffMs, maxConcurrency, apiKey);
  }

  public LlmHttpConfig withTemperature(double t) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, t, topLogprobs, missingLogprobMargin,
        requestTimeoutMs, maxRetries, initialBackoffMs, maxBackoffMs, maxConcurrency, apiKey);
  }

  public LlmHttpConfig withTopLogprobs(int n) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, temperature, n, missingLogprobMargin,
        requestTimeoutMs, maxRetries, initialBackoffMs, maxBackoffMs, maxConcurrency, apiKey);
  }

  public LlmHttpConfig withRequestTimeoutMs(long ms) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, temperature, topLogprobs, missingLogprobMargin,
        ms, maxRetries, initialBackoffMs, maxBackoffMs, maxConcurrency, apiKey);
  }

  public LlmHttpConfig withRetries(int retries, long initialMs, long maxMs) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, temperature, topLogprobs, missingLogprobMargin,
        requestTimeoutMs, retries, initialMs, maxMs, maxConcurrency, apiKey);
  }

  public LlmHttpConfig withMaxConcurrency(int n) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, temperature, topLogprobs, missingLogprobMargin,
        requestTimeoutMs, maxRetries, initialBackoffMs, maxBackoffMs, n, apiKey);
  }

  public LlmHttpConfig withApiKey(String key) {
    return new LlmHttpConfig(baseUrl, model, promptTemplate, temperature, topLogprobs, missingLogprobMargin,
        requestTimeoutMs, maxRetries, initialBackoffMs, maxBackoffMs, maxConcurrency, key);
  }

  /** The prompt for one pair: the template with both placeholders filled, in one pass. */
  public String prompt(String query, String passage) {
    int q = promptTemplate.indexOf(QUERY);
    int p = promptTemplate.indexOf(PASSAGE);
    StringBuilder sb = new StringBuilder(promptTemplate.length() + query.length() + passage.length());
    if (p < q) {
      sb.append(promptTemplate, 0, p).append(passage).append(promptTemplate, p + PASSAGE.length(), q).append(query)
          .append(promptTemplate, q + QUERY.length(), promptTemplate.length());
    } else {
      sb.append(promptTemplate, 0, q).append(query).append(promptTemplate, q + QUERY.length(), p).append(passage)
          .append(promptTemplate, p + PASSAGE.length(), promptTemplate.length());
    }
    return sb.toString();
  }

  /** {@code {baseUrl}/v1/completions}. */
  URI completionsUri() {
    String base = baseUrl.toString();
    while (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    return URI.create(base + "/v1/completions");
  }
}
