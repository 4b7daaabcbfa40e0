package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import io.d2search.bundle.TrainingWindow;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.OnnxWeights;
import io.d2search.embed.PmaHead;
import io.d2search.rank.IemHead;
import io.d2search.teach.DenseModel;
import io.d2search.testkit.Randomized;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interpolates between the real bundled all-MiniLM-L6-v2 (version 0) and students made from it with randomly moved
 * weights in a few backbone layers, a moved PMA and a random IEM; the results load and run in ONNX Runtime.
 */
@SuppressWarnings("unchecked")
class WeightInterpolationTest {
  private static final int MAX_TOKENS = 64;
  /** Initializers the fake students move: a generated MatMul name (by its module alias), biases, a LayerNorm. */
  private static final List<String> MOVED = List.of("encoder.layer.5.attention.self.query.weight",
      "encoder.layer.5.output.LayerNorm.bias", "encoder.layer.0.intermediate.dense.bias");
  private static final Map<String, Object> SCIFACT_TRAIN = Map.of("data",
      Map.of("source", "beir", "dataset", "scifact", "split", "train"));

  @TempDir
  static Path tmp;

  private static ModelBundle zero;

  @BeforeAll
  static void versionZero() {
    zero = ModelBundle.versionZero(tmp.resolve("bundles"), BackboneSource.MINILM_L6_V2, MAX_TOKENS);
  }

  @Test
  void everyTensorLiesOnTheLineBetweenTheEndpointsAndTheResultServes() throws Exception {
    long seed = Randomized.seed("WeightInterpolationTest");
    Random r = new Random(seed);
    ModelBundle to = student("s" + seed, r, IemHead.Input.INTERACTION_ONLY, SCIFACT_TRAIN);
    double alpha = 0.05 + 0.9 * r.nextDouble();
    ModelBundle mid = WeightInterpolation.write(zero, to, alpha, tmp.resolve("bundles/mid" + seed)).bundle();

    OnnxWeights a = OnnxWeights.of(zero.backbone());
    OnnxWeights b = OnnxWeights.of(to.backbone());
    OnnxWeights m = OnnxWeights.of(mid.backbone());
    for (String name : MOVED) {
      assertMixed(m.get(name), a.get(name), b.get(name), alpha, "seed " + seed + ", " + name);
    }
    // Unmoved tensors are copied bit for bit (Arrays.equals: AssertJ diffs 11.7M values in quadratic time).
    for (String name : List.of("embeddings.word_embeddings.weight", "encoder.layer.3.output.dense.weight")) {
      assertThat(Arrays.equals(m.get(name), a.get(name))).as(name).isTrue();
    }

    SortedMap<String, Tensor> fromHeads = heads(zero);
    SortedMap<String, Tensor> toHeads = heads(to);
    heads(mid).forEach((name, t) -> {
      if (name.startsWith("iem.")) {
        assertThat(t).as(name).isEqualTo(toHeads.get(name)); // version 0 has no IEM: the student's is the one
      } else {
        assertMixed(t.data(), fromHeads.get(name).data(), toHeads.get(name).data(), alpha, "seed " + seed + ", " + name);
      }
    });

    Manifest manifest = mid.manifest();
    assertThat(manifest.parent()).isEqualTo(to.version());
    assertThat(manifest.iem()).isEqualTo(to.manifest().iem());
    assertThat(manifest.backbone().id()).startsWith("all-minilm-l6-v2+moved+wise");
    assertThat(manifest.training()).containsEntry("data", SCIFACT_TRAIN.get("data"));
    assertThat(manifest.trainingWindow()).hasValue(new TrainingWindow("beir", "scifact", "train", null, null, null,
        null, null, null));
    assertThat((Map<String, Object>) manifest.training().get(WeightInterpolation.MANIFEST_KEY))
        .containsEntry("from", "0").containsEntry("to", to.version()).containsEntry("alpha", alpha)
        .containsEntry("iem", "to").containsEntry("fromChecksum", zero.checksum())
        .containsEntry("toChecksum", to.checksum());

    // ONNX Runtime serves the averaged graph, and its vectors are neither endpoint's.
    List<String> texts = List.of("insulin resistance in obese mice", "vaccine response of the immune system");
    List<float[]> vz = embed(zero, texts);
    List<float[]> vt = embed(to, texts);
    List<float[]> vm = embed(mid, texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(vm.get(i)).hasSize(384).isNotEqualTo(vz.get(i)).isNotEqualTo(vt.get(i));
      for (float v : vm.get(i)) {
        assertThat(Float.isFinite(v)).isTrue();
      }
    }
  }

  @Test
  void alphaZeroAndOneReproduceTheEndpointsExactly() {
    Random r = new Random(System.nanoTime());
    ModelBundle to = student("e" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION, SCIFACT_TRAIN);
    ModelBundle atZero = WeightInterpolation.write(zero, to, 0, tmp.resolve("bundles/" + to.version() + "-0"))
        .bundle();
    ModelBundle atOne = WeightInterpolation.write(zero, to, 1, tmp.resolve("bundles/" + to.version() + "-1"))
        .bundle();
    assertThat(atZero.backboneSha256()).isEqualTo(zero.backboneSha256());
    assertThat(atOne.backboneSha256()).isEqualTo(to.backboneSha256());
    SortedMap<String, Tensor> zeroHeads = heads(zero);
    heads(atZero).forEach((name, t) -> {
      if (!name.startsWith("iem.")) {
        assertThat(t).as(name).isEqualTo(zeroHeads.get(name));
      }
    });
    assertThat(heads(atOne)).isEqualTo(heads(to));
  }

  @Test
  void twoStudentsIemsAreAveragedWhenTheyReadTheSameInputElseToIsKept() {
    Random r = new Random(System.nanoTime());
    ModelBundle a = student("a" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION_ONLY, SCIFACT_TRAIN);
    ModelBundle b = student("b" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION_ONLY, SCIFACT_TRAIN);
    ModelBundle c = student("c" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION, SCIFACT_TRAIN);

    WeightInterpolation.Interpolated soupWritten =
        WeightInterpolation.write(a, b, 0.5, tmp.resolve("bundles/" + a.version() + b.version()));
    assertThat(soupWritten.iem()).isEqualTo(WeightInterpolation.IemSource.INTERPOLATED);
    ModelBundle soup = soupWritten.bundle();
    SortedMap<String, Tensor> ha = heads(a);
    SortedMap<String, Tensor> hb = heads(b);
    heads(soup).forEach((name, t) -> assertMixed(t.data(), ha.get(name).data(), hb.get(name).data(), 0.5, name));
    assertThat(interpolation(soup)).containsEntry("iem", "interpolated");

    ModelBundle mixed = WeightInterpolation.write(a, c, 0.3, tmp.resolve("bundles/" + a.version() + c.version()))
        .bundle();
    assertThat(mixed.manifest().iem()).isEqualTo(c.manifest().iem());
    SortedMap<String, Tensor> hc = heads(c);
    heads(mixed).forEach((name, t) -> {
      if (name.startsWith("iem.")) {
        assertThat(t).as(name).isEqualTo(hc.get(name));
      }
    });
    assertThat(interpolation(mixed)).containsEntry("iem", "to");

    ModelBundle back = WeightInterpolation.write(a, zero, 0.5, tmp.resolve("bundles/" + a.version() + "-zero"))
        .bundle();
    assertThat(back.manifest().iem()).isEqualTo(a.manifest().iem());
    assertThat(interpolation(back)).containsEntry("iem", "from");
  }

  @Test
  void refusesWhatCannotBeInterpolated() {
    Random r = new Random(System.nanoTime());
    ModelBundle to = student("r" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION_ONLY, SCIFACT_TRAIN);
    for (double alpha : new double[] {-0.01, 1.01, Double.NaN}) {
      assertThatThrownBy(() -> WeightInterpolation.write(zero, to, alpha, tmp.resolve("bundles/never")))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("alpha must be in [0, 1]");
    }
    ModelBundle otherSplit = student("t" + r.nextInt(1 << 30), r, IemHead.Input.INTERACTION_ONLY,
        Map.of("data", Map.of("source", "beir", "dataset", "scifact", "split", "dev")));
    assertThatThrownBy(() -> WeightInterpolation.write(otherSplit, to, 0.5, tmp.resolve("bundles/never")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("different training data windows");

    // Four PMA heads instead of eight: the same tensor shapes, another function.
    Map<String, Tensor> fourHeads = new TreeMap<>(HeadTensors.of(PmaHead.meanInit(384, 4, r.nextLong())));
    Manifest four = new Manifest(Manifest.FORMAT_VERSION, "four", null, zero.manifest().backbone(), 384,
        Manifest.PoolingSpec.pma(4), null, null, null, Map.of(), "2026-11-25T00:00:00Z");
    ModelBundle.write(tmp.resolve("bundles/four"), four, fourHeads);
    ModelBundle fourBundle = ModelBundle.load(tmp.resolve("bundles/four"));
    assertThatThrownBy(() -> WeightInterpolation.write(fourBundle, to, 0.5, tmp.resolve("bundles/never")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("different pooling");
    assertThat(tmp.resolve("bundles/never")).doesNotExist();
  }

  @Test
  void graphsOfAnotherArchitectureAreRefused() {
    // bge-small-en-v1.5: 384-d like MiniLM, but twelve layers.
    OnnxWeights bge = OnnxWeights.of(DenseModel.BGE_SMALL_EN_V15.backbone());
    assertThatThrownBy(() -> WeightInterpolation.interpolatedGraph(OnnxWeights.of(zero.backbone()), bge, 0.5))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("different initializers");
  }

  /**
   * A student of version 0: three backbone initializers moved by random noise, a PMA from another seed, a random
   * IEM of {@code input}, the given training record; written with its own graph as a tuned bundle is.
   */
  private static ModelBundle student(String version, Random r, IemHead.Input input, Map<String, Object> training) {
    OnnxWeights base = OnnxWeights.of(zero.backbone());
    Map<String, float[]> moved = new LinkedHashMap<>();
    for (String name : MOVED) {
      float[] v = base.get(name);
      for (int i = 0; i < v.length; i++) {
        v[i] += (float) (0.05 * r.nextGaussian());
      }
      moved.put(name, v);
    }
    Map<String, byte[]> files = new LinkedHashMap<>();
    Manifest.BackboneSpec backbone = ModelBundle.carriedBackbone(zero, "all-minilm-l6-v2+moved", base.patched(moved),
        files);
    Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, version, "0", backbone, 384,
        Manifest.PoolingSpec.pma(ModelBundle.VERSION_ZERO_HEADS), Manifest.IemSpec.of(input, 16), null, training,
        Map.of(), "2026-11-25T00:00:00Z");
    Map<String, Tensor> tensors = new TreeMap<>(HeadTensors.of(PmaHead.meanInit(384, ModelBundle.VERSION_ZERO_HEADS,
        r.nextLong())));
    HeadTensors.expectedShapes(manifest).forEach((name, shape) -> {
      if (name.startsWith("iem.")) {
        float[] data = new float[Arrays.stream(shape).reduce(1, Math::multiplyExact)];
        for (int i = 0; i < data.length; i++) {
          data[i] = (float) (0.1 * r.nextGaussian());
        }
        tensors.put(name, Tensor.of(data, shape));
      }
    });
    Path dir = tmp.resolve("bundles/" + version);
    ModelBundle.write(dir, manifest, tensors, files);
    return ModelBundle.load(dir);
  }

  /** {@code actual} is (1 − α)·from + α·to, element for element, rounded to float once. */
  private static void assertMixed(float[] actual, float[] from, float[] to, double alpha, String what) {
    float[] expected = new float[from.length];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (float) ((1 - alpha) * from[i] + alpha * to[i]);
    }
    // Arrays.equals, then the first difference: per-element AssertJ calls take a minute over a PMA's 600k values.
    if (!Arrays.equals(actual, expected)) {
      int i = Arrays.mismatch(actual, expected);
      assertThat(actual[i]).as("%s[%d] at alpha %s", what, i, alpha).isEqualTo(expected[i]);
    }
  }

  private static SortedMap<String, Tensor> heads(ModelBundle bundle) {
    return Safetensors.read(bundle.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
  }

  private static Map<String, Object> interpolation(ModelBundle bundle) {
    return (Map<String, Object>) bundle.manifest().training().get(WeightInterpolation.MANIFEST_KEY);
  }

  private static List<float[]> embed(ModelBundle bundle, List<String> texts) {
    try (Embedder embedder = bundle.embedder(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      return embedder.embed(texts);
    }
  }
}
