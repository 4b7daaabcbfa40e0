package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.bundle.Manifest.BackboneSpec;
import io.d2search.bundle.Manifest.IemSpec;
import io.d2search.bundle.Manifest.PoolingSpec;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.MeanPooling;
import io.d2search.embed.PmaHead;
import io.d2search.embed.TextHash;
import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import io.d2search.testing.Seeds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writing, loading and refusing bundles. The backbone is a fake (random bytes): loading only hashes it, so these
 * tests need no ONNX Runtime.
 */
class ModelBundleTest {
  private static final int D = 16;
  private static final int HEADS = 4;
  private static final int HIDDEN = 8;

  private static long seed;

  @TempDir
  Path tmp;
  private BackboneSource backbone;
  private String backboneSha;
  private Random random;

  @BeforeAll
  static void seed() {
    seed = Seeds.seed("ModelBundleTest");
  }

  @BeforeEach
  void fakeBackbone() throws IOException {
    random = new Random(seed);
    byte[] onnx = new byte[4096];
    random.nextBytes(onnx);
    Path onnxFile = Files.write(tmp.resolve("fake.onnx"), onnx);
    Path tokenizer = Files.writeString(tmp.resolve("tokenizer.json"), "{}");
    backbone = BackboneSource.files("fake", onnxFile, tokenizer);
    backboneSha = TextHash.sha256(onnx);
  }

  private Manifest manifest(PoolingSpec pooling, IemSpec iem) {
    return new Manifest(Manifest.FORMAT_VERSION, "7", "6", BackboneSpec.of(backbone, backboneSha, 128), D, pooling,
        iem, null, Map.of("losses", Map.of("ci", 1.0, "ri", 1.0), "teacher", "qwen2.5-7b"),
        Map.of("ndcg@10", 0.712, "recall@100", 0.93), "2026-01-02T03:04:05Z");
  }

  private PmaHead randomPma() {
    return new PmaHead(HEADS, Seeds.gaussian(random, D, 1), linear(D, D), linear(D, D), linear(D, D), linear(D, D),
        new LayerNorm(Seeds.gaussian(random, D, 1), Seeds.gaussian(random, D, 1)),
        new LayerNorm(Seeds.gaussian(random, D, 1), Seeds.gaussian(random, D, 1)));
  }

  private IemHead randomIem(IemHead.Input input) {
    return new IemHead(input, linear(HIDDEN, input.blocks() * D), linear(HIDDEN, HIDDEN), linear(HIDDEN, HIDDEN),
        linear(1, HIDDEN));
  }

  private Linear linear(int out, int in) {
    return Linear.of(out, in, Seeds.gaussian(random, out * in, 0.3), Seeds.gaussian(random, out, 0.3));
  }

  private Map<String, Tensor> tensors(PmaHead pma, IemHead iem) {
    Map<String, Tensor> all = new TreeMap<>();
    if (pma != null) {
      all.putAll(HeadTensors.of(pma));
    }
    if (iem != null) {
      all.putAll(HeadTensors.of(iem));
    }
    return all;
  }

  /** Writes files directly, bypassing {@link ModelBundle#write}'s checks: how a corrupt bundle could come about. */
  private static Path forge(Path dir, Manifest manifest, Map<String, Tensor> tensors) throws IOException {
    Files.createDirectories(dir);
    byte[] weights = Safetensors.encode(tensors, Map.of());
    Files.write(dir.resolve(ModelBundle.WEIGHTS_FILE), weights);
    Manifest withWeights = manifest.withWeights(new Manifest.WeightsSpec(ModelBundle.WEIGHTS_FILE, TextHash.sha256(weights)));
    Files.write(dir.resolve(ModelBundle.MANIFEST_FILE), withWeights.toJson());
    return dir;
  }

  @Test
  void roundTripsHeadsAndManifest() throws IOException {
    PmaHead pma = randomPma();
    IemHead iem = randomIem(IemHead.Input.INTERACTION);
    Path dir = tmp.resolve("bundles/7");
    Manifest written = ModelBundle.write(dir, manifest(PoolingSpec.pma(HEADS), IemSpec.of(IemHead.Input.INTERACTION,
        HIDDEN)), tensors(pma, iem));
    assertThat(written.weights().file()).isEqualTo("heads.safetensors");

    ModelBundle bundle = ModelBundle.load(dir);
    assertThat(bundle.manifest()).isEqualTo(written);
    assertThat(bundle.version()).isEqualTo("7");
    assertThat(bundle.checksum()).isEqualTo(TextHash.sha256(Files.readAllBytes(dir.resolve("manifest.json"))));
    assertThat(bundle.backbone()).isEqualTo(backbone);
    assertThat(bundle.backboneSha256()).isEqualTo(backboneSha);
    assertThat(bundle.pooling()).isInstanceOf(PmaHead.class);
    assertThat(HeadTensors.of((PmaHead) bundle.pooling())).isEqualTo(HeadTensors.of(pma));
    assertThat(HeadTensors.of(bundle.iem().orElseThrow())).isEqualTo(HeadTensors.of(iem));

    float[][] x = {Seeds.gaussian(random, D, 1), Seeds.gaussian(random, D, 1)};
    assertThat(((PmaHead) bundle.pooling()).pool(x, new long[] {1, 1})).containsExactly(pma.pool(x, new long[] {1, 1}));
    float[] q = Seeds.unit(random, D);
    float[] p = Seeds.unit(random, D);
    assertThat(bundle.iem().orElseThrow().logit(q, p, IemHead.Branch.ASYMMETRIC))
        .isEqualTo(iem.logit(q, p, IemHead.Branch.ASYMMETRIC));
    assertThat(Files.list(dir.getParent()).toList()).containsExactly(dir); // no staging directory left behind
  }

  @Test
  void manifestJsonHasTheDocsFields() throws IOException {
    Path dir = tmp.resolve("7");
    ModelBundle.write(dir, manifest(PoolingSpec.pma(HEADS), IemSpec.of(IemHead.Input.CONCAT, HIDDEN)),
        tensors(randomPma(), randomIem(IemHead.Input.CONCAT)));
    JsonNode json = new ObjectMapper().readTree(dir.resolve("manifest.json").toFile());
    assertThat(fieldNames(json)).containsExactly("formatVersion", "version", "parent", "backbone", "dimension",
        "pooling", "iem", "weights", "training", "metrics", "createdAt");
    assertThat(fieldNames(json.get("backbone")))
        .containsExactly("id", "artifact", "onnx", "tokenizer", "sha256", "maxTokens");
    assertThat(fieldNames(json.get("pooling"))).containsExactly("type", "heads");
    assertThat(fieldNames(json.get("iem"))).containsExactly("input", "hidden");
    assertThat(fieldNames(json.get("weights"))).containsExactly("file", "sha256");
    assertThat(json.get("formatVersion").intValue()).isEqualTo(1);
    assertThat(json.get("pooling").get("type").textValue()).isEqualTo("pma");
    assertThat(json.get("iem").get("input").textValue()).isEqualTo("concat");
    assertThat(json.get("backbone").get("artifact").isNull()).isTrue();
    assertThat(json.get("weights").get("sha256").textValue())
        .isEqualTo(TextHash.sha256(Files.readAllBytes(dir.resolve("heads.safetensors"))));
    String text = Files.readString(dir.resolve("manifest.json"));
    assertThat(text).endsWith("}\n").doesNotContain("\r");
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void aMeanBundleWithoutIemHoldsNoTensors() {
    Path dir = tmp.resolve("m");
    ModelBundle.write(dir, manifest(PoolingSpec.mean(), null), Map.of());
    ModelBundle bundle = ModelBundle.load(dir);
    assertThat(bundle.pooling()).isSameAs(MeanPooling.INSTANCE);
    assertThat(bundle.iem()).isEmpty();
    assertThat(bundle.manifest().pooling().heads()).isNull();
  }

  @Test
  void refusesWeightsWithAFlippedByte() throws IOException {
    Path dir = tmp.resolve("7");
    ModelBundle.write(dir, manifest(PoolingSpec.pma(HEADS), null), tensors(randomPma(), null));
    Path weights = dir.resolve("heads.safetensors");
    byte[] original = Files.readAllBytes(weights);
    for (int position : new int[] {0, 9, original.length / 2, original.length - 1}) {
      byte[] tampered = original.clone();
      tampered[position] ^= 0x01;
      Files.write(weights, tampered);
      assertThatThrownBy(() -> ModelBundle.load(dir)).as("byte %d flipped", position)
          .isInstanceOf(BundleException.class).hasMessageContaining("heads.safetensors").hasMessageContaining("sha256");
    }
  }

  @Test
  void refusesAMissingTensor() throws IOException {
    Map<String, Tensor> tensors = tensors(randomPma(), null);
    tensors.remove("pma.fc_k.weight");
    Path dir = forge(tmp.resolve("7"), manifest(PoolingSpec.pma(HEADS), null), tensors);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("missing tensor pma.fc_k.weight");
    assertThatThrownBy(() -> ModelBundle.write(tmp.resolve("8"), manifest(PoolingSpec.pma(HEADS), null), tensors))
        .isInstanceOf(BundleException.class).hasMessageContaining("missing tensor pma.fc_k.weight");
    assertThat(tmp.resolve("8")).doesNotExist();
  }

  @Test
  void refusesAMissingIemTensor() throws IOException {
    Map<String, Tensor> tensors = tensors(randomPma(), randomIem(IemHead.Input.CONCAT));
    tensors.remove("iem.proj1.bias");
    Path dir = forge(tmp.resolve("7"), manifest(PoolingSpec.pma(HEADS), IemSpec.of(IemHead.Input.CONCAT, HIDDEN)),
        tensors);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("missing tensor iem.proj1.bias");
  }

  @Test
  void refusesAWrongShape() throws IOException {
    Map<String, Tensor> tensors = tensors(randomPma(), null);
    tensors.put("pma.fc_v.weight", Tensor.of(new float[D * (D - 1)], D, D - 1));
    Path dir = forge(tmp.resolve("7"), manifest(PoolingSpec.pma(HEADS), null), tensors);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("pma.fc_v.weight has shape [16, 15], expected [16, 16]");
    Map<String, Tensor> seedFlat = tensors(randomPma(), null);
    seedFlat.put("pma.seed", Tensor.of(new float[D], D));
    Path dir2 = forge(tmp.resolve("8"), manifest(PoolingSpec.pma(HEADS), null), seedFlat);
    assertThatThrownBy(() -> ModelBundle.load(dir2)).isInstanceOf(BundleException.class)
        .hasMessageContaining("pma.seed has shape [16], expected [1, 16]");
  }

  @Test
  void fc1WidthMustMatchTheIemInput() throws IOException {
    // 4d-wide fc1 (interaction) under a manifest that says concat (2d)
    Map<String, Tensor> tensors = tensors(randomPma(), randomIem(IemHead.Input.INTERACTION));
    Path dir = forge(tmp.resolve("7"), manifest(PoolingSpec.pma(HEADS), IemSpec.of(IemHead.Input.CONCAT, HIDDEN)),
        tensors);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("iem.fc1.weight has shape [8, 64], expected [8, 32]");
  }

  @Test
  void refusesAnUnexpectedTensor() throws IOException {
    Map<String, Tensor> tensors = tensors(randomPma(), randomIem(IemHead.Input.CONCAT));
    Path dir = forge(tmp.resolve("7"), manifest(PoolingSpec.pma(HEADS), null), tensors);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("unexpected tensor iem.");
  }

  @Test
  void refusesAnotherBackbone() throws IOException {
    Path dir = tmp.resolve("7");
    ModelBundle.write(dir, manifest(PoolingSpec.pma(HEADS), null), tensors(randomPma(), null));
    byte[] onnx = Files.readAllBytes(Path.of(backbone.onnx()));
    onnx[100] ^= 0x40;
    Files.write(Path.of(backbone.onnx()), onnx);
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("backbone fake").hasMessageContaining("sha256").hasMessageContaining(backboneSha);
    Files.delete(Path.of(backbone.onnx()));
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("cannot be read");
  }

  @Test
  void refusesAManifestWithTheWrongBackboneSha() throws IOException {
    Manifest good = manifest(PoolingSpec.mean(), null);
    Manifest wrong = new Manifest(good.formatVersion(), good.version(), good.parent(),
        BackboneSpec.of(backbone, "0".repeat(64), 128), good.dimension(), good.pooling(), good.iem(), null,
        good.training(), good.metrics(), good.createdAt());
    Path dir = forge(tmp.resolve("7"), wrong, Map.of());
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("manifest backbone.sha256 is " + "0".repeat(64));
  }

  @Test
  void refusesAMissingOrInvalidManifest() throws IOException {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    assertThatThrownBy(() -> ModelBundle.load(empty)).isInstanceOf(BundleException.class)
        .hasMessageContaining("no manifest.json");
    Path dir = tmp.resolve("7");
    ModelBundle.write(dir, manifest(PoolingSpec.mean(), null), Map.of());
    String json = Files.readString(dir.resolve("manifest.json"));
    Files.writeString(dir.resolve("manifest.json"), json.replace("\"formatVersion\": 1", "\"formatVersion\": 2"));
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("formatVersion 2");
    Files.writeString(dir.resolve("manifest.json"), json.replace("\"type\": \"mean\"", "\"type\": \"max\""));
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("pooling.type");
    Files.writeString(dir.resolve("manifest.json"), "{ not json");
    assertThatThrownBy(() -> ModelBundle.load(dir)).isInstanceOf(BundleException.class)
        .hasMessageContaining("manifest.json is invalid");
  }

  @Test
  void writeRefusesAnExistingBundle() {
    Path dir = tmp.resolve("7");
    ModelBundle.write(dir, manifest(PoolingSpec.mean(), null), Map.of());
    assertThatThrownBy(() -> ModelBundle.write(dir, manifest(PoolingSpec.mean(), null), Map.of()))
        .isInstanceOf(BundleException.class).hasMessageContaining("immutable");
  }

  @Test
  void relativeBackbonePathsResolveAgainstTheBundle() throws IOException {
    Path dir = tmp.resolve("7");
    Files.createDirectories(dir.resolve("backbone"));
    Files.copy(Path.of(backbone.onnx()), dir.resolve("backbone/model.onnx"));
    Manifest m = manifest(PoolingSpec.mean(), null);
    Manifest relative = new Manifest(m.formatVersion(), m.version(), m.parent(),
        new BackboneSpec("fake", null, "backbone/model.onnx", "backbone/tokenizer.json", backboneSha, 128),
        m.dimension(), m.pooling(), m.iem(), null, m.training(), m.metrics(), m.createdAt());
    forge(dir, relative, Map.of());
    ModelBundle bundle = ModelBundle.load(dir);
    assertThat(Path.of(bundle.backbone().onnx())).isEqualTo(dir.resolve("backbone/model.onnx"));
    assertThat(bundle.backbone().onClasspath()).isFalse();
    // Only such a backbone belongs to the bundle (what a bundle derived from it must copy).
    assertThat(relative.backbone().inBundle()).isTrue();
    assertThat(m.backbone().inBundle()).as("an absolute file path").isFalse();
    assertThat(new BackboneSpec("fake", null, m.backbone().onnx(), "tokenizer.json", backboneSha, 128).inBundle())
        .as("the tokenizer alone in the bundle").isTrue();
    assertThat(BackboneSpec.of(BackboneSource.MINILM_L6_V2, backboneSha, 128).inBundle()).as("classpath").isFalse();
  }

  @Test
  void manifestRefusesInconsistentFields() {
    assertThatThrownBy(() -> manifest(PoolingSpec.pma(3), null)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("divide");
    assertThatThrownBy(() -> new PoolingSpec("mean", 8)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new IemSpec("sum", 512)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Manifest.WeightsSpec("../x", "0".repeat(64)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Manifest(1, "../1", null, BackboneSpec.of(backbone, backboneSha, 128), D,
        PoolingSpec.mean(), null, null, null, null, null)).isInstanceOf(IllegalArgumentException.class);
  }
}
