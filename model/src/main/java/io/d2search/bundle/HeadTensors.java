package io.d2search.bundle;

import io.d2search.embed.PmaHead;
import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import java.util.Arrays;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The tensor names and shapes of {@code heads.safetensors} (docs/d2llm-heads.md, "Tensor names"), and the
 * conversions between those tensors and {@link PmaHead} / {@link IemHead}. The distiller writes with these names;
 * serving reads with them. Stateless and thread-safe.
 */
public final class HeadTensors {
  public static final String PMA_SEED = "pma.seed";
  public static final String PMA_FC_Q = "pma.fc_q";
  public static final String PMA_FC_K = "pma.fc_k";
  public static final String PMA_FC_V = "pma.fc_v";
  public static final String PMA_FC_O = "pma.fc_o";
  public static final String PMA_LN0 = "pma.ln0";
  public static final String PMA_LN1 = "pma.ln1";
  public static final String IEM_FC1 = "iem.fc1";
  public static final String IEM_PROJ0 = "iem.proj0";
  public static final String IEM_PROJ1 = "iem.proj1";
  public static final String IEM_OUT = "iem.out";
  /** Suffix of a layer's weight tensor name: {@code pma.fc_q} + {@code .weight}. */
  public static final String WEIGHT = ".weight";
  /** Suffix of a layer's bias tensor name. */
  public static final String BIAS = ".bias";

  private HeadTensors() {}

  /**
   * Every tensor a bundle with this manifest must hold, with its shape, sorted by name. A {@code mean} bundle
   * without IEM holds none.
   */
  public static SortedMap<String, int[]> expectedShapes(Manifest manifest) {
    int d = manifest.dimension();
    SortedMap<String, int[]> shapes = new TreeMap<>();
    if (Manifest.PoolingSpec.PMA.equals(manifest.pooling().type())) {
      shapes.put(PMA_SEED, new int[] {1, d});
      for (String layer : new String[] {PMA_FC_Q, PMA_FC_K, PMA_FC_V, PMA_FC_O}) {
        linearShapes(shapes, layer, d, d);
      }
      for (String layer : new String[] {PMA_LN0, PMA_LN1}) {
        shapes.put(layer + WEIGHT, new int[] {d});
        shapes.put(layer + BIAS, new int[] {d});
      }
    }
    Manifest.IemSpec iem = manifest.iem();
    if (iem != null) {
      int hidden = iem.hidden();
      linearShapes(shapes, IEM_FC1, hidden, iem.inputKind().blocks() * d);
      linearShapes(shapes, IEM_PROJ0, hidden, hidden);
      linearShapes(shapes, IEM_PROJ1, hidden, hidden);
      linearShapes(shapes, IEM_OUT, 1, hidden);
    }
    return shapes;
  }

  private static void linearShapes(Map<String, int[]> shapes, String layer, int out, int in) {
    shapes.put(layer + WEIGHT, new int[] {out, in});
    shapes.put(layer + BIAS, new int[] {out});
  }

  /**
   * Checks that the tensors are exactly those the manifest calls for, with the right shapes.
   *
   * @throws BundleException naming the first missing, misshapen or unexpected tensor
   */
  public static void check(Manifest manifest, Map<String, Tensor> tensors) {
    SortedMap<String, int[]> expected = expectedShapes(manifest);
    for (Map.Entry<String, int[]> e : expected.entrySet()) {
      Tensor t = tensors.get(e.getKey());
      if (t == null) {
        throw new BundleException("missing tensor " + e.getKey() + " (shape " + Arrays.toString(e.getValue())
            + ") required by pooling " + manifest.pooling().type() + (manifest.iem() == null ? "" : " and the IEM"));
      }
      if (!t.hasShape(e.getValue())) {
        throw new BundleException("tensor " + e.getKey() + " has shape " + Arrays.toString(t.shape()) + ", expected "
            + Arrays.toString(e.getValue()) + " (dimension " + manifest.dimension() + ")");
      }
    }
    for (String name : new TreeMap<>(tensors).keySet()) {
      if (!expected.containsKey(name)) {
        throw new BundleException("unexpected tensor " + name + ": the manifest (pooling "
            + manifest.pooling().type() + ", iem " + (manifest.iem() == null ? "none" : manifest.iem().input())
            + ") does not call for it");
      }
    }
  }

  /** The {@code pma.*} tensors of a head. */
  public static SortedMap<String, Tensor> of(PmaHead pma) {
    SortedMap<String, Tensor> out = new TreeMap<>();
    out.put(PMA_SEED, Tensor.of(pma.seed(), 1, pma.dimension()));
    put(out, PMA_FC_Q, pma.fcQ());
    put(out, PMA_FC_K, pma.fcK());
    put(out, PMA_FC_V, pma.fcV());
    put(out, PMA_FC_O, pma.fcO());
    put(out, PMA_LN0, pma.ln0());
    put(out, PMA_LN1, pma.ln1());
    return out;
  }

  /** The {@code iem.*} tensors of a head. */
  public static SortedMap<String, Tensor> of(IemHead iem) {
    SortedMap<String, Tensor> out = new TreeMap<>();
    put(out, IEM_FC1, iem.fc1());
    put(out, IEM_PROJ0, iem.proj(IemHead.Branch.SYMMETRIC));
    put(out, IEM_PROJ1, iem.proj(IemHead.Branch.ASYMMETRIC));
    put(out, IEM_OUT, iem.out());
    return out;
  }

  private static void put(Map<String, Tensor> out, String layer, Linear linear) {
    out.put(layer + WEIGHT, Tensor.of(linear.weightRowMajor(), linear.out(), linear.in()));
    out.put(layer + BIAS, Tensor.of(linear.biasCopy(), linear.out()));
  }

  private static void put(Map<String, Tensor> out, String layer, LayerNorm norm) {
    out.put(layer + WEIGHT, Tensor.of(norm.gamma(), norm.dimension()));
    out.put(layer + BIAS, Tensor.of(norm.beta(), norm.dimension()));
  }

  /**
   * Builds a PMA head from {@code pma.*} tensors.
   *
   * @throws BundleException if a tensor is missing; IllegalArgumentException if the shapes do not fit together
   */
  public static PmaHead pma(Map<String, Tensor> tensors, int heads) {
    return new PmaHead(heads, get(tensors, PMA_SEED).data(), linear(tensors, PMA_FC_Q), linear(tensors, PMA_FC_K),
        linear(tensors, PMA_FC_V), linear(tensors, PMA_FC_O), norm(tensors, PMA_LN0), norm(tensors, PMA_LN1));
  }

  /**
   * Builds an IEM from {@code iem.*} tensors.
   *
   * @throws BundleException if a tensor is missing; IllegalArgumentException if the shapes do not fit together
   */
  public static IemHead iem(Map<String, Tensor> tensors, IemHead.Input input) {
    return new IemHead(input, linear(tensors, IEM_FC1), linear(tensors, IEM_PROJ0), linear(tensors, IEM_PROJ1),
        linear(tensors, IEM_OUT));
  }

  private static Linear linear(Map<String, Tensor> tensors, String layer) {
    Tensor w = get(tensors, layer + WEIGHT);
    Tensor b = get(tensors, layer + BIAS);
    int[] shape = w.shape();
    if (shape.length != 2) {
      throw new BundleException("tensor " + layer + WEIGHT + " must be 2-D, has shape " + Arrays.toString(shape));
    }
    return Linear.of(shape[0], shape[1], w.data(), b.data());
  }

  private static LayerNorm norm(Map<String, Tensor> tensors, String layer) {
    return new LayerNorm(get(tensors, layer + WEIGHT).data(), get(tensors, layer + BIAS).data());
  }

  private static Tensor get(Map<String, Tensor> tensors, String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new BundleException("missing tensor " + name);
    }
    return t;
  }
}
