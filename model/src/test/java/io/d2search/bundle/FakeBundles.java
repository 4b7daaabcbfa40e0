package io.d2search.bundle;

import io.d2search.bundle.Manifest.BackboneSpec;
import io.d2search.bundle.Manifest.IemSpec;
import io.d2search.bundle.Manifest.PoolingSpec;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.PmaHead;
import io.d2search.embed.TextHash;
import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import io.d2search.testing.Seeds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Real bundles (written with {@link ModelBundle#write}) over a fake backbone of random bytes, as
 * {@link ModelBundleTest} makes them: loading only hashes the backbone, so no ONNX Runtime is needed.
 */
final class FakeBundles {
  static final int D = 16;
  static final int HEADS = 4;
  static final int HIDDEN = 8;

  private final Path dir;
  private final Random random;

  FakeBundles(Path dir, String seedName) {
    this.dir = dir;
    this.random = new Random(Seeds.seed(seedName));
  }

  /** A new fake backbone (random ONNX bytes and a tokenizer file) under a name of its own. */
  Backbone backbone(String name) throws IOException {
    byte[] onnx = new byte[4096];
    random.nextBytes(onnx);
    Path onnxFile = Files.write(Files.createDirectories(dir.resolve("backbones")).resolve(name + ".onnx"), onnx);
    Path tokenizer = Files.writeString(dir.resolve("backbones").resolve(name + "-tokenizer.json"), "{}");
    return new Backbone(BackboneSource.files(name, onnxFile, tokenizer), TextHash.sha256(onnx));
  }

  /** A backbone and its ONNX sha256. */
  record Backbone(BackboneSource source, String sha256) {
    BackboneSpec spec(int maxTokens) {
      return BackboneSpec.of(source, sha256, maxTokens);
    }
  }

  static Manifest manifest(String version, String parent, BackboneSpec backbone, PoolingSpec pooling, IemSpec iem) {
    return new Manifest(Manifest.FORMAT_VERSION, version, parent, backbone, D, pooling, iem, null, null, Map.of(),
        "2026-01-02T03:04:05Z");
  }

  PmaHead randomPma() {
    return new PmaHead(HEADS, Seeds.gaussian(random, D, 1), linear(D, D), linear(D, D), linear(D, D), linear(D, D),
        new LayerNorm(Seeds.gaussian(random, D, 1), Seeds.gaussian(random, D, 1)),
        new LayerNorm(Seeds.gaussian(random, D, 1), Seeds.gaussian(random, D, 1)));
  }

  IemHead randomIem() {
    IemHead.Input input = IemHead.Input.INTERACTION;
    return new IemHead(input, linear(HIDDEN, input.blocks() * D), linear(HIDDEN, HIDDEN), linear(HIDDEN, HIDDEN),
        linear(1, HIDDEN));
  }

  static IemSpec iemSpec() {
    return IemSpec.of(IemHead.Input.INTERACTION, HIDDEN);
  }

  private Linear linear(int out, int in) {
    return Linear.of(out, in, Seeds.gaussian(random, out * in, 0.3), Seeds.gaussian(random, out, 0.3));
  }

  /** The tensors of a PMA head and an IEM head, either may be null. */
  static Map<String, Tensor> tensors(PmaHead pma, IemHead iem) {
    Map<String, Tensor> all = new TreeMap<>();
    if (pma != null) {
      all.putAll(HeadTensors.of(pma));
    }
    if (iem != null) {
      all.putAll(HeadTensors.of(iem));
    }
    return all;
  }
}
