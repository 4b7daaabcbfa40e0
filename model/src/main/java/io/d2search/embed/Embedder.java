package io.d2search.embed;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Text to unit vectors: tokenizer, ONNX backbone, a {@link Pooling} (mean over real tokens unless told
 * otherwise), L2 normalisation. The single code path used to embed passages at index time, queries at search
 * time, and documents in evaluation. An embedder for a trained model bundle comes from
 * {@code io.d2search.bundle.ModelBundle#embedder}.
 *
 * <p>Within one call, texts are sorted by length and cut into batches of at most {@code batchSize}, so short
 * texts are not padded to the longest. Thread-safe; closes the tokenizer and session it created.
 */
public final class Embedder implements AutoCloseable {

  private final EmbedderConfig config;
  private final TextTokenizer tokenizer;
  private final OnnxBackbone backbone;
  private final Pooling pooling;
  private final ModelInfo info;

  private Embedder(EmbedderConfig config, TextTokenizer tokenizer, OnnxBackbone backbone, Pooling pooling,
      String sha256) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.backbone = backbone;
    this.pooling = pooling;
    this.info = new ModelInfo(config.modelVersion(), config.backbone().id(), sha256, backbone.dimension(),
        config.maxTokens(), pooling.name(), backbone.provider());
  }

  /** Loads the backbone and tokenizer named by the config; pools by {@link MeanPooling}. */
  public static Embedder create(EmbedderConfig config) {
    return create(config, MeanPooling.INSTANCE);
  }

  /**
   * Loads the backbone and tokenizer named by the config, pooling with the given strategy.
   *
   * @param pooling how token states become a vector; a {@link PmaHead} must have the backbone's dimension
   * @throws IllegalArgumentException if the pooling does not fit the backbone
   */
  public static Embedder create(EmbedderConfig config, Pooling pooling) {
    Objects.requireNonNull(pooling, "pooling");
    byte[] onnx = config.backbone().onnxBytes();
    String sha = TextHash.sha256(onnx);
    TextTokenizer tokenizer = TextTokenizer.load(config.backbone());
    OnnxBackbone backbone = null;
    try {
      backbone = OnnxBackbone.create(onnx, config.intraOpThreads(), config.provider());
      if (pooling instanceof PmaHead pma && pma.dimension() != backbone.dimension()) {
        throw new IllegalArgumentException("PMA head has dimension " + pma.dimension() + " but backbone "
            + config.backbone().id() + " outputs " + backbone.dimension());
      }
      return new Embedder(config, tokenizer, backbone, pooling, sha);
    } catch (RuntimeException e) {
      if (backbone != null) {
        backbone.close();
      }
      tokenizer.close();
      throw e;
    }
  }

  /** What this embedder is. */
  public ModelInfo info() {
    return info;
  }

  /** The tokenizer, shared so chunking counts tokens exactly as embedding does. */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /** The configuration this embedder was built from. */
  public EmbedderConfig config() {
    return config;
  }

  /** How token states become vectors. */
  public Pooling pooling() {
    return pooling;
  }

  /** Embeds one text. */
  public float[] embed(String text) {
    return embed(List.of(text)).get(0);
  }

  /**
   * A text's vector and what each step took: the query path's breakdown.
   *
   * @param tokenizeNanos the tokenizer
   * @param encodeNanos the backbone (ONNX Runtime)
   * @param poolNanos the pooling head
   */
  public record Timed(float[] vector, long tokenizeNanos, long encodeNanos, long poolNanos) {}

  /** Embeds one text as {@link #embed(String)} does, timing each step. */
  public Timed embedTimed(String text) {
    long t0 = System.nanoTime();
    var tokens = tokenizer.encode(List.of(text), config.maxTokens());
    long t1 = System.nanoTime();
    TokenStates states = backbone.run(tokens);
    long t2 = System.nanoTime();
    float[] vector = pooling.pool(states, 0);
    long t3 = System.nanoTime();
    return new Timed(vector, t1 - t0, t2 - t1, t3 - t2);
  }

  /** Embeds texts; the result is in the order of the input. */
  public List<float[]> embed(List<String> texts) {
    float[][] out = new float[texts.size()][];
    // Sort by length so each ONNX batch pads little; characters are a good enough proxy for tokens.
    Integer[] order = IntStream.range(0, texts.size()).boxed().toArray(Integer[]::new);
    java.util.Arrays.sort(order, Comparator.comparingInt(i -> texts.get(i).length()));
    for (int from = 0; from < order.length; from += config.batchSize()) {
      int to = Math.min(order.length, from + config.batchSize());
      List<String> chunk = new ArrayList<>(to - from);
      for (int j = from; j < to; j++) {
        chunk.add(texts.get(order[j]));
      }
      TokenStates states = tokenStates(chunk);
      for (int j = from; j < to; j++) {
        out[order[j]] = pooling.pool(states, j - from);
      }
    }
    return List.of(out);
  }

  /** Backbone token states of up to one batch of texts, tokenized and truncated exactly as {@link #embed} does. */
  public TokenStates tokenStates(List<String> texts) {
    return backbone.run(tokenizer.encode(texts, config.maxTokens()));
  }

  @Override
  public void close() {
    backbone.close();
    tokenizer.close();
  }
}
