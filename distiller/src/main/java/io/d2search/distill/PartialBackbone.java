package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import io.d2search.bundle.Tensor;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.OnnxWeights;
import io.d2search.embed.TextHash;
import io.d2search.embed.TextTokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The token states after a backbone's first {@code layers} encoder layers, computed in DJL from the ONNX graph's
 * weights: the input of the top layers a student fine-tunes ({@link BertLayers}), which stay frozen below it, so
 * they are computed once per text and cached like the serving backbone's states. Embeddings as HuggingFace BERT
 * computes them: {@code LN(word[id] + position[t] + tokenType[type])}, then the layers. With every layer it is the
 * serving backbone's forward (tested against ONNX Runtime).
 *
 * <p>Cached under {@link #backboneSha256()}, derived from the graph's sha256 and the layer count, so states of
 * different depths never mix. Not thread-safe; close it to free the native memory.
 */
public final class PartialBackbone implements TokenStateSource, AutoCloseable {
  private final TextTokenizer tokenizer;
  private final NDManager manager;
  private final BertLayers layers; // null when layers = 0
  private final float[] words;
  private final float[] positions;
  private final float[] tokenTypes;
  private final NDArray lnWeight;
  private final NDArray lnBias;
  private final int dim;
  private final int maxTokens;
  private final int batchSize;
  private final String id;

  private PartialBackbone(TextTokenizer tokenizer, NDManager manager, BertLayers layers, OnnxWeights w,
      int maxTokens, int batchSize, String id) {
    this.tokenizer = tokenizer;
    this.manager = manager;
    this.layers = layers;
    this.words = w.get("embeddings.word_embeddings.weight");
    this.positions = w.get("embeddings.position_embeddings.weight");
    this.tokenTypes = w.get("embeddings.token_type_embeddings.weight");
    this.dim = w.shape("embeddings.word_embeddings.weight")[1];
    this.lnWeight = param(manager, w, "embeddings.LayerNorm.weight");
    this.lnBias = param(manager, w, "embeddings.LayerNorm.bias");
    this.maxTokens = maxTokens;
    this.batchSize = batchSize;
    this.id = id;
  }

  /**
   * The first {@code layers} layers of a backbone.
   *
   * @param source the backbone (its graph and tokenizer)
   * @param sha256 the graph's sha256 (as the bundle pinned it)
   * @param maxTokens the token limit
   * @param layers how many encoder layers to run, 0 to all of them
   * @param heads the backbone's attention heads
   * @param batchSize texts per forward
   * @throws IllegalArgumentException if the graph is not a BERT encoder with that many layers
   */
  public static PartialBackbone open(BackboneSource source, String sha256, int maxTokens, int layers, int heads,
      int batchSize) {
    return open(source, OnnxWeights.of(source), sha256, maxTokens, layers, heads, batchSize);
  }

  /**
   * All but the top {@code top} layers of a backbone: the frozen part under the layers a student tunes.
   *
   * @throws IllegalArgumentException if the backbone has fewer than {@code top} layers
   */
  public static PartialBackbone belowTop(BackboneSource source, String sha256, int maxTokens, int top, int heads,
      int batchSize) {
    OnnxWeights weights = OnnxWeights.of(source);
    int total = BertLayers.layerCount(weights);
    if (top < 1 || top > total) {
      throw new IllegalArgumentException("backbone " + source.id() + " has " + total + " layers; cannot tune the top "
          + top);
    }
    return open(source, weights, sha256, maxTokens, total - top, heads, batchSize);
  }

  private static PartialBackbone open(BackboneSource source, OnnxWeights weights, String sha256, int maxTokens,
      int layers, int heads, int batchSize) {
    Objects.requireNonNull(source, "source");
    int total = BertLayers.layerCount(weights);
    if (layers < 0 || layers > total) {
      throw new IllegalArgumentException("backbone " + source.id() + " has " + total + " layers; asked for "
          + layers);
    }
    NDManager manager = DjlRuntime.engine().newBaseManager();
    TextTokenizer tokenizer = null;
    try {
      BertLayers lower = null;
      if (layers > 0) {
        Map<String, NDArray> params = new LinkedHashMap<>();
        BertLayers.tensors(weights, 0, layers).forEach((name, t) -> params.put(name, array(manager, t)));
        lower = BertLayers.of(params, heads);
      }
      tokenizer = TextTokenizer.load(source);
      return new PartialBackbone(tokenizer, manager, lower, weights, maxTokens, batchSize,
          TextHash.sha256(sha256.toLowerCase(java.util.Locale.ROOT) + "/encoder layers 0-" + layers));
    } catch (RuntimeException e) {
      if (tokenizer != null) {
        tokenizer.close();
      }
      manager.close();
      throw e;
    }
  }

  private static NDArray array(NDManager manager, Tensor t) {
    NDArray a = Scalars.owned(manager, t.data(), StudentHeads.shapeOf(t));
    NDScope.unregister(a);
    return a;
  }

  private static NDArray param(NDManager manager, OnnxWeights w, String name) {
    return array(manager, new Tensor(w.shape(name), w.get(name)));
  }

  @Override
  public String backboneSha256() {
    return id;
  }

  @Override
  public int maxTokens() {
    return maxTokens;
  }

  @Override
  public int dimension() {
    return dim;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  @Override
  public List<TokenSequence> compute(List<String> texts) {
    List<TokenSequence> out = new ArrayList<>(texts.size());
    if (texts.isEmpty()) {
      return out;
    }
    TextTokenizer.Batch batch = tokenizer.encode(texts, maxTokens);
    int n = batch.size();
    int width = batch.width();
    float[] embedded = new float[n * width * dim];
    float[] mask = new float[n * width];
    for (int i = 0; i < n; i++) {
      for (int t = 0; t < width; t++) {
        int at = (i * width + t) * dim;
        int word = Math.toIntExact(batch.ids()[i][t]) * dim;
        int type = Math.toIntExact(batch.typeIds()[i][t]) * dim;
        for (int c = 0; c < dim; c++) {
          embedded[at + c] = words[word + c] + positions[t * dim + c] + tokenTypes[type + c];
        }
        mask[i * width + t] = batch.mask()[i][t];
      }
    }
    float[] states;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray x = LayerNorm.layerNorm(Scalars.owned(manager, embedded, new Shape(n, width, dim)), new Shape(dim),
          lnWeight, lnBias, BertLayers.LN_EPS).singletonOrThrow();
      if (layers != null) {
        x = layers.forward(x, Scalars.owned(manager, mask, new Shape(n, width)));
      }
      states = x.toFloatArray();
    }
    for (int i = 0; i < n; i++) {
      out.add(TokenSequence.fromBatch(states, i, width, dim, batch.mask()[i]));
    }
    return out;
  }

  @Override
  public void close() {
    tokenizer.close();
    manager.close();
  }
}
