package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.LayerNorm;
import io.d2search.bundle.Tensor;
import io.d2search.embed.OnnxWeights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Consecutive BERT encoder layers (HuggingFace {@code BertLayer}, post-LayerNorm) as DJL operations, batched and
 * differentiable: the backbone layers a student fine-tunes on the CPU, run from the ONNX graph's own weights
 * ({@link OnnxWeights}) so that the tuned values can be written back into that graph for serving.
 *
 * <pre>
 * per head: A = softmax(Q·Kᵀ / sqrt(d/h) + mask) · V          (Q, K, V = x·W + b; padding keys masked)
 * a = LN(concat(A)·Wo + bo + x);  y = LN(GELU(a·Wi + bi)·Wf + bf + a)      (LN eps 1e-12, exact erf GELU)
 * </pre>
 *
 * <p>Tensor names are the module names prefixed {@link #PREFIX} ({@code backbone.encoder.layer.5.attention.self
 * .query.weight}); MatMul weights keep the graph's {@code [in, out]} layout. Holds references to the arrays, which
 * are trainable parameters when their owner attached gradients. The forward keeps no state.
 */
public final class BertLayers {
  /** Prefix of every backbone tensor among a student's parameters. */
  public static final String PREFIX = "backbone.";
  /** BERT's LayerNorm epsilon. */
  static final float LN_EPS = 1e-12f;
  /** Attention heads of the backbones shipped here (all-MiniLM-L6-v2, bge-small-en-v1.5, e5-small-v2). */
  public static final int DEFAULT_HEADS = 12;
  private static final float MASKED = 1e9f;
  private static final Pattern LAYER = Pattern.compile("^" + Pattern.quote(PREFIX) + "encoder\\.layer\\.(\\d+)\\.");
  /** A layer's modules, in order. */
  private static final List<String> MODULES = List.of("attention.self.query", "attention.self.key",
      "attention.self.value", "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
      "output.dense", "output.LayerNorm");

  private final List<Map<String, NDArray>> layers;
  private final int heads;

  private BertLayers(List<Map<String, NDArray>> layers, int heads) {
    this.layers = layers;
    this.heads = heads;
  }

  /** The tensor names of layer {@code layer}, prefixed, in order. */
  public static List<String> names(int layer) {
    List<String> out = new ArrayList<>();
    for (String m : MODULES) {
      out.add(PREFIX + "encoder.layer." + layer + "." + m + ".weight");
      out.add(PREFIX + "encoder.layer." + layer + "." + m + ".bias");
    }
    return out;
  }

  /** How many encoder layers the graph has. */
  public static int layerCount(OnnxWeights weights) {
    int n = 0;
    while (weights.contains("encoder.layer." + n + ".output.LayerNorm.weight")) {
      n++;
    }
    return n;
  }

  /**
   * The graph's values of layers {@code [from, to)}, under their prefixed names.
   *
   * @throws IllegalArgumentException if the graph lacks one of them
   */
  public static Map<String, Tensor> tensors(OnnxWeights weights, int from, int to) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int layer = from; layer < to; layer++) {
      for (String name : names(layer)) {
        String graph = name.substring(PREFIX.length());
        out.put(name, new Tensor(weights.shape(graph), weights.get(graph)));
      }
    }
    return out;
  }

  /** The layer indices that {@code names} hold tensors of, ascending. */
  static TreeSet<Integer> layerIndices(Iterable<String> names) {
    TreeSet<Integer> out = new TreeSet<>();
    for (String name : names) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        out.add(Integer.parseInt(m.group(1)));
      }
    }
    return out;
  }

  /**
   * The layers whose tensors {@code tensors} holds (referenced, not copied), in index order; they must be
   * consecutive and complete.
   *
   * @throws IllegalArgumentException if a layer misses a tensor, or the layers are not consecutive
   */
  public static BertLayers of(Map<String, NDArray> tensors, int heads) {
    TreeSet<Integer> indices = layerIndices(tensors.keySet());
    if (indices.isEmpty()) {
      throw new IllegalArgumentException("no " + PREFIX + "encoder.layer.* tensors");
    }
    if (indices.last() - indices.first() + 1 != indices.size()) {
      throw new IllegalArgumentException("backbone layers must be consecutive: " + indices);
    }
    List<Map<String, NDArray>> layers = new ArrayList<>();
    for (int layer : indices) {
      Map<String, NDArray> own = new LinkedHashMap<>();
      for (String name : names(layer)) {
        NDArray t = tensors.get(name);
        if (t == null) {
          throw new IllegalArgumentException("missing tensor " + name);
        }
        own.put(name.substring(name.indexOf(".layer.") + ".layer.".length()).replaceFirst("^\\d+\\.", ""), t);
      }
      long d = own.get("attention.self.query.weight").getShape().get(0);
      if (heads < 1 || d % heads != 0) {
        throw new IllegalArgumentException("attention heads must divide " + d + ": " + heads);
      }
      layers.add(own);
    }
    return new BertLayers(List.copyOf(layers), heads);
  }

  /** Number of layers. */
  public int size() {
    return layers.size();
  }

  /**
   * Runs the layers.
   *
   * @param hidden {@code [B, T, d]} the states entering the first layer
   * @param mask {@code [B, T]}, 1 for real tokens, 0 for padding (float)
   * @return {@code [B, T, d]} the states leaving the last layer (padding rows are computed but meaningless)
   */
  public NDArray forward(NDArray hidden, NDArray mask) {
    Shape shape = hidden.getShape();
    long b = shape.get(0);
    long t = shape.get(1);
    long d = shape.get(2);
    long dh = d / heads;
    NDArray keyMask = Scalars.mul(mask.toType(hidden.getDataType(), false).sub(1), MASKED).reshape(b, 1, 1, t);
    Shape normalized = new Shape(d);
    NDArray x = hidden;
    for (Map<String, NDArray> w : layers) {
      NDArray q = split(linear(x, w, "attention.self.query"), b, t, dh);
      NDArray k = split(linear(x, w, "attention.self.key"), b, t, dh);
      NDArray v = split(linear(x, w, "attention.self.value"), b, t, dh);
      NDArray scores = Scalars.div(q.matMul(k.transpose(0, 1, 3, 2)), Math.sqrt(dh)).add(keyMask);
      NDArray context = scores.softmax(3).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, d);
      NDArray a = LayerNorm.layerNorm(linear(context, w, "attention.output.dense").add(x), normalized,
          w.get("attention.output.LayerNorm.weight"), w.get("attention.output.LayerNorm.bias"), LN_EPS)
          .singletonOrThrow();
      NDArray inner = Activation.gelu(linear(a, w, "intermediate.dense"));
      x = LayerNorm.layerNorm(linear(inner, w, "output.dense").add(a), normalized,
          w.get("output.LayerNorm.weight"), w.get("output.LayerNorm.bias"), LN_EPS).singletonOrThrow();
    }
    return x;
  }

  private static NDArray linear(NDArray x, Map<String, NDArray> w, String module) {
    return x.matMul(w.get(module + ".weight")).add(w.get(module + ".bias"));
  }

  /** {@code [B, T, d]} → {@code [B, h, T, d/h]}. */
  private NDArray split(NDArray x, long b, long t, long dh) {
    return x.reshape(b, t, heads, dh).transpose(0, 2, 1, 3);
  }
}
