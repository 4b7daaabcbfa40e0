package io.d2search.teach;

import io.d2search.embed.ExecutionProvider;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How to build an {@link OnnxCrossEncoderTeacher}.
 *
 * @param name short stable name of the model (e.g. {@code ms-marco-MiniLM-L-6-v2}); the teacher id adds the
 *     checksum of the ONNX file, so retrained weights under the same name still get a new id
 * @param onnx a sequence-classification graph: inputs {@code input_ids}, {@code attention_mask} and optionally
 *     {@code token_type_ids} (int64, {@code [batch, tokens]}); output {@code logits} (float, {@code [batch, C]})
 * @param tokenizer the model's HuggingFace {@code tokenizer.json}
 * @param maxTokens limit on query + passage + special tokens; longer pairs are truncated longest-first (tokens are
 *     taken from the longer of the two until the pair fits, as HuggingFace {@code truncation=True} does)
 * @param batchSize most pairs in one ONNX run
 * @param positiveIndex with {@code C >= 2}, the class whose softmax probability is the relevance (1 for the usual
 *     {@code [not relevant, relevant]}); ignored when {@code C = 1}, where the relevance is the sigmoid
 * @param temperature logits are divided by it before the sigmoid or softmax; 1 by default
 * @param intraOpThreads ONNX Runtime intra-op threads; 0 lets the runtime choose
 * @param provider CPU, CUDA, or AUTO (CUDA when present)
 */
public record CrossEncoderConfig(
    String name, Path onnx, Path tokenizer, int maxTokens, int batchSize, int positiveIndex, double temperature,
    int intraOpThreads, ExecutionProvider provider) {

  public CrossEncoderConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(onnx, "onnx");
    Objects.requireNonNull(tokenizer, "tokenizer");
    Objects.requireNonNull(provider, "provider");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must not be blank");
    }
    if (maxTokens < 4 || maxTokens > 8192) {
      throw new IllegalArgumentException("maxTokens must be in [4, 8192]: " + maxTokens);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1: " + batchSize);
    }
    if (positiveIndex < 0) {
      throw new IllegalArgumentException("positiveIndex must be >= 0: " + positiveIndex);
    }
    if (!(temperature > 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be > 0: " + temperature);
    }
    if (intraOpThreads < 0) {
      throw new IllegalArgumentException("intraOpThreads must be >= 0: " + intraOpThreads);
    }
  }

  /** 512 tokens, batches of 16, positive class 1, T = 1, runtime-chosen threads, CUDA when present. */
  public static CrossEncoderConfig of(String name, Path onnx, Path tokenizer) {
    return new CrossEncoderConfig(name, onnx, tokenizer, 512, 16, 1, 1.0, 0, ExecutionProvider.AUTO);
  }

  public CrossEncoderConfig withMaxTokens(int tokens) {
    return new CrossEncoderConfig(name, onnx, tokenizer, tokens, batchSize, positiveIndex, temperature,
        intraOpThreads, provider);
  }

  public CrossEncoderConfig withBatchSize(int size) {
    return new CrossEncoderConfig(name, onnx, tokenizer, maxTokens, size, positiveIndex, temperature,
        intraOpThreads, provider);
  }

  public CrossEncoderConfig withPositiveIndex(int index) {
    return new CrossEncoderConfig(name, onnx, tokenizer, maxTokens, batchSize, index, temperature,
        intraOpThreads, provider);
  }

  public CrossEncoderConfig withTemperature(double t) {
    return new CrossEncoderConfig(name, onnx, tokenizer, maxTokens, batchSize, positiveIndex, t,
        intraOpThreads, provider);
  }

  public CrossEncoderConfig withProvider(ExecutionProvider p) {
    return new CrossEncoderConfig(name, onnx, tokenizer, maxTokens, batchSize, positiveIndex, temperature,
        intraOpThreads, p);
  }
}
