package io.d2search.embed;

/**
 * What an {@link Embedder} is, checked once at construction and immutable after.
 *
 * @param version model version label stamped on vectors
 * @param backboneId name of the backbone
 * @param backboneSha256 SHA-256 (hex) of the ONNX graph bytes
 * @param dimension size of the output vectors
 * @param maxTokens sequence limit including special tokens
 * @param pooling how token states become one vector: {@link Pooling#name()}, {@code mean}, {@code cls} or {@code pma}
 * @param provider the execution provider actually in use ({@code CPU} or {@code CUDA})
 */
public record ModelInfo(
    String version, String backboneId, String backboneSha256, int dimension, int maxTokens, String pooling,
    ExecutionProvider provider) {}
