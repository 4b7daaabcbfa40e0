package io.d2search.ingest;

import io.d2search.config.Settings;
/**
 * How {@link Chunker} cuts a document body into passages. Token counts are of the backbone's tokenizer, without
 * special tokens, so a chunk of {@code maxTokens} plus the embedder's two special tokens must fit its sequence
 * limit (256 for the bundled MiniLM) or the embedder truncates it.
 *
 * @param maxTokens most tokens in one chunk, {@code >= 8}; default the {@code chunk.max-tokens} setting
 * @param overlapTokens most tokens a chunk repeats from the end of the previous one, {@code 0 <= overlapTokens <
 *     maxTokens}; default the {@code chunk.overlap-tokens} setting
 */
public record ChunkerConfig(int maxTokens, int overlapTokens) {
  public static final int DEFAULT_MAX_TOKENS = Settings.defaults().integer("chunk.max-tokens");
  public static final int DEFAULT_OVERLAP_TOKENS = Settings.defaults().integer("chunk.overlap-tokens");
  /** Smaller chunks carry too little text to embed meaningfully; it is also the embedder's own minimum. */
  public static final int MIN_MAX_TOKENS = 8;

  /** @throws IllegalArgumentException if a limit is out of range */
  public ChunkerConfig {
    if (maxTokens < MIN_MAX_TOKENS) {
      throw new IllegalArgumentException("maxTokens must be >= " + MIN_MAX_TOKENS + ": " + maxTokens);
    }
    if (overlapTokens < 0 || overlapTokens >= maxTokens) {
      throw new IllegalArgumentException(
          "overlapTokens must be >= 0 and < maxTokens (" + maxTokens + "): " + overlapTokens);
    }
  }

  /** The documented defaults: {@code chunk.max-tokens} per chunk, {@code chunk.overlap-tokens} of overlap. */
  public static ChunkerConfig defaults() {
    return new ChunkerConfig(DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS);
  }
}
