package io.d2search.embed;

import java.util.Objects;

/**
 * How to build an {@link Embedder}.
 *
 * @param modelVersion version label written on every vector this embedder makes (e.g. {@code "0"})
 * @param backbone where the ONNX graph and tokenizer come from
 * @param maxTokens sequence limit including special tokens; longer texts are truncated (256 for MiniLM, as
 *     sentence-transformers does)
 * @param batchSize largest number of texts in one ONNX call; larger requests are split
 * @param intraOpThreads ONNX Runtime intra-op threads; 0 lets the runtime choose (all cores)
 * @param provider CPU, CUDA, or AUTO (CUDA when present)
 */
public record EmbedderConfig(
    String modelVersion, BackboneSource backbone, int maxTokens, int batchSize, int intraOpThreads,
    ExecutionProvider provider) {

  public EmbedderConfig {
    Objects.requireNonNull(modelVersion, "modelVersion");
    Objects.requireNonNull(backbone, "backbone");
    Objects.requireNonNull(provider, "provider");
    if (modelVersion.isBlank()) {
      throw new IllegalArgumentException("modelVersion must not be blank");
    }
    if (maxTokens < 8 || maxTokens > 8192) {
      throw new IllegalArgumentException("maxTokens must be in [8, 8192]: " + maxTokens);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1: " + batchSize);
    }
    if (intraOpThreads < 0) {
      throw new IllegalArgumentException("intraOpThreads must be >= 0: " + intraOpThreads);
    }
  }

  /** Version 0: the bundled all-MiniLM-L6-v2 with mean pooling, 256 tokens, batches of 32, CPU or CUDA. */
  public static EmbedderConfig defaults() {
    return new EmbedderConfig("0", BackboneSource.MINILM_L6_V2, 256, 32, 0, ExecutionProvider.AUTO);
  }

  public EmbedderConfig withBackbone(BackboneSource b) {
    return new EmbedderConfig(modelVersion, b, maxTokens, batchSize, intraOpThreads, provider);
  }

  public EmbedderConfig withMaxTokens(int tokens) {
    return new EmbedderConfig(modelVersion, backbone, tokens, batchSize, intraOpThreads, provider);
  }

  public EmbedderConfig withProvider(ExecutionProvider p) {
    return new EmbedderConfig(modelVersion, backbone, maxTokens, batchSize, intraOpThreads, p);
  }

  public EmbedderConfig withIntraOpThreads(int threads) {
    return new EmbedderConfig(modelVersion, backbone, maxTokens, batchSize, threads, provider);
  }
}
