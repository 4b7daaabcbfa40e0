package io.d2search.distill;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import io.d2search.bundle.TrainingWindow;
import io.d2search.embed.OnnxWeights;
import io.d2search.embed.TextHash;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A bundle whose weights lie on the line between two bundles of one architecture: θ = (1 − α)·θ<sub>from</sub> +
 * α·θ<sub>to</sub>, backbone graph and heads alike. With {@code from} the pre-trained start (version 0) and {@code to}
 * a student fine-tuned from it, this is WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR
 * 2022): fine-tuning on a small judged set moves the weights towards what those queries reward, and part of that
 * move is fitting them; averaging with the start keeps the part that generalises, and improved accuracy under
 * distribution shift there with no training and no cost at query time. Our shift is eval's unseen subset (queries
 * whose relevant documents no training query cites). Two fine-tuned siblings averaged give a "model soup" the same
 * way.
 *
 * <p>Tensors equal in both endpoints (a frozen embedding table, a frozen PMA) are copied, not recomputed, so they
 * stay bit-identical. An IEM present in only one endpoint (version 0 has none) is taken as it is: it is the only
 * re-ranker there is; two IEMs of different inputs cannot be averaged and {@code to}'s is taken. The manifest names
 * {@code to} as parent, keeps its training record (eval derives the unseen subset from its data window) and adds
 * {@code training.interpolation}: both endpoints, their checksums, α, and where the IEM came from. Stateless.
 */
public final class WeightInterpolation {
  /** {@code training.interpolation} in the manifest. */
  public static final String MANIFEST_KEY = "interpolation";

  private WeightInterpolation() {}

  /** Where the new bundle's IEM came from. */
  public enum IemSource {
    /** Neither endpoint has one. */
    NONE,
    /** Both have one reading the same input: averaged like every other tensor. */
    INTERPOLATED,
    /** Only {@code from} has one. */
    FROM,
    /** Only {@code to} has one, or their inputs differ. */
    TO;

    /** How the manifest's {@code interpolation.iem} names it. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * @param bundle the new bundle, loaded
   * @param iem where its IEM came from
   */
  public record Interpolated(ModelBundle bundle, IemSource iem) {}

  /**
   * Writes the interpolated bundle to {@code outDir} (which must not hold a bundle) and loads it.
   *
   * @param alpha weight of {@code to}, in [0, 1]: 0 gives {@code from}'s weights, 1 {@code to}'s
   * @throws IllegalArgumentException if the bundles differ in architecture (dimension, pooling, tokenizer, token
   *     limit, the graph's initializers by name and shape) or were trained on different data windows, or
   *     {@code alpha} is outside [0, 1]
   */
  public static Interpolated write(ModelBundle from, ModelBundle to, double alpha, Path outDir) {
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    if (!(alpha >= 0 && alpha <= 1)) {
      throw new IllegalArgumentException("alpha must be in [0, 1]: " + alpha);
    }
    Manifest fm = from.manifest();
    Manifest tm = to.manifest();
    requireSameArchitecture(from, to);

    Map<String, byte[]> files = new LinkedHashMap<>();
    Manifest.BackboneSpec backbone = tm.backbone();
    if (!from.backboneSha256().equals(to.backboneSha256())) {
      byte[] graph = interpolatedGraph(OnnxWeights.of(from.backbone()), OnnxWeights.of(to.backbone()), alpha);
      backbone = ModelBundle.carriedBackbone(to, tm.backbone().id() + String.format(Locale.ROOT, "+wise%.2f", alpha),
          graph, files);
    } else if (tm.backbone().inBundle()) {
      backbone = ModelBundle.carriedBackbone(to, tm.backbone().id(), to.backbone().onnxBytes(), files);
    }

    IemSource iemSource = iemSource(fm.iem(), tm.iem());
    Map<String, Object> record = new LinkedHashMap<>();
    record.put("method", "WiSE-FT: (1 - alpha) * from + alpha * to, every tensor");
    record.put("from", from.version());
    record.put("fromChecksum", from.checksum());
    record.put("to", to.version());
    record.put("toChecksum", to.checksum());
    record.put("alpha", alpha);
    record.put("iem", iemSource.id());
    Map<String, Object> training = new LinkedHashMap<>(tm.training() == null ? Map.of() : tm.training());
    training.put(MANIFEST_KEY, record);
    Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, outDir.getFileName().toString(), to.version(),
        backbone, tm.dimension(), tm.pooling(), iemSource == IemSource.FROM ? fm.iem() : tm.iem(), null, training,
        Map.of(), Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());

    SortedMap<String, Tensor> fromHeads = Safetensors.read(from.directory().resolve(ModelBundle.WEIGHTS_FILE))
        .tensors();
    SortedMap<String, Tensor> toHeads = Safetensors.read(to.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    SortedMap<String, Tensor> heads = new TreeMap<>();
    for (String name : HeadTensors.expectedShapes(manifest).keySet()) {
      boolean iemTensor = name.startsWith("iem.");
      if (iemTensor && iemSource == IemSource.FROM) {
        heads.put(name, fromHeads.get(name));
      } else if (iemTensor && iemSource == IemSource.TO) {
        heads.put(name, toHeads.get(name));
      } else {
        Tensor b = toHeads.get(name);
        heads.put(name, Tensor.of(mix(fromHeads.get(name).data(), b.data(), alpha), b.shape()));
      }
    }
    ModelBundle.write(outDir, manifest, heads, files);
    return new Interpolated(ModelBundle.load(outDir), iemSource);
  }

  private static void requireSameArchitecture(ModelBundle from, ModelBundle to) {
    Manifest fm = from.manifest();
    Manifest tm = to.manifest();
    String problem = null;
    if (fm.dimension() != tm.dimension()) {
      problem = "dimensions " + fm.dimension() + " and " + tm.dimension();
    } else if (!fm.pooling().equals(tm.pooling())) {
      problem = "pooling " + fm.pooling() + " and " + tm.pooling();
    } else if (fm.backbone().maxTokens() != tm.backbone().maxTokens()) {
      problem = "token limits " + fm.backbone().maxTokens() + " and " + tm.backbone().maxTokens();
    } else if (!TextHash.sha256(from.backbone().tokenizerBytes()).equals(TextHash.sha256(to.backbone()
        .tokenizerBytes()))) {
      problem = "tokenizers (" + from.backbone().tokenizer() + ", " + to.backbone().tokenizer() + ")";
    } else if (!sameWindow(fm.trainingWindow(), tm.trainingWindow())) {
      // eval derives the unseen queries from one data window; an average of two windows would claim one of them.
      problem = "training data windows (" + fm.trainingWindow().map(TrainingWindow::toMap).orElse(null) + " and "
          + tm.trainingWindow().map(TrainingWindow::toMap).orElse(null) + ")";
    }
    if (problem != null) {
      throw new IllegalArgumentException("cannot interpolate bundles " + from.version() + " and " + to.version()
          + ": different " + problem);
    }
  }

  /** An untrained endpoint has no window; otherwise both must name the same source, dataset and split. */
  private static boolean sameWindow(Optional<TrainingWindow> a, Optional<TrainingWindow> b) {
    return a.isEmpty() || b.isEmpty() || a.get().sameData(b.get());
  }

  private static IemSource iemSource(Manifest.IemSpec from, Manifest.IemSpec to) {
    if (from == null && to == null) {
      return IemSource.NONE;
    }
    if (to == null) {
      return IemSource.FROM;
    }
    return to.equals(from) ? IemSource.INTERPOLATED : IemSource.TO;
  }

  /**
   * {@code to}'s graph with every float32 initializer replaced by the mix of both; initializers equal in both are
   * left as they are.
   */
  static byte[] interpolatedGraph(OnnxWeights from, OnnxWeights to, double alpha) {
    List<String> names = to.names();
    if (!names.equals(from.names())) {
      throw new IllegalArgumentException("cannot interpolate backbones with different initializers ("
          + from.names().size() + " and " + names.size() + " float32 tensors)");
    }
    Map<String, float[]> mixed = new LinkedHashMap<>();
    for (String name : names) {
      if (!Arrays.equals(from.shape(name), to.shape(name))) {
        throw new IllegalArgumentException("cannot interpolate backbones: initializer " + name + " has shapes "
            + Arrays.toString(from.shape(name)) + " and " + Arrays.toString(to.shape(name)));
      }
      float[] a = from.get(name);
      float[] b = to.get(name);
      if (!Arrays.equals(a, b)) {
        mixed.put(name, mix(a, b, alpha));
      }
    }
    return to.patched(mixed);
  }

  /**
   * (1 − α)·a + α·b element-wise, in double: α = 0 gives a and α = 1 gives b exactly; elements equal in both are
   * copied bit for bit (the double sum could round them).
   */
  static float[] mix(float[] a, float[] b, double alpha) {
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] == b[i] ? b[i] : (float) ((1 - alpha) * a[i] + alpha * b[i]);
    }
    return out;
  }
}
