package io.d2search.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Reads and patches the real bundled all-MiniLM-L6-v2 graph, and runs the patched graph in ONNX Runtime. */
class OnnxWeightsTest {
  private static byte[] onnx;
  private static OnnxWeights weights;

  @BeforeAll
  static void read() {
    onnx = BackboneSource.MINILM_L6_V2.onnxBytes();
    weights = OnnxWeights.read(onnx);
  }

  @Test
  void readsNamedInitializersAndResolvesMatMulWeightsByTheirBias() {
    assertThat(weights.shape("embeddings.word_embeddings.weight")).containsExactly(30522, 384);
    assertThat(weights.shape("encoder.layer.5.output.LayerNorm.weight")).containsExactly(384);
    for (int layer = 0; layer < 6; layer++) {
      String p = "encoder.layer." + layer + ".";
      for (String square : List.of("attention.self.query", "attention.self.key", "attention.self.value",
          "attention.output.dense")) {
        assertThat(weights.shape(p + square + ".weight")).containsExactly(384, 384);
        assertThat(weights.graphName(p + square + ".weight")).startsWith("onnx::MatMul_");
      }
      assertThat(weights.shape(p + "intermediate.dense.weight")).containsExactly(384, 1536);
      assertThat(weights.shape(p + "output.dense.weight")).containsExactly(1536, 384);
    }
    // Twelve distinct generated names per pair of layers: no two modules resolve to one tensor.
    long distinct = java.util.stream.IntStream.range(0, 6).boxed().flatMap(l -> List.of("attention.self.query",
        "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense")
        .stream().map(m -> weights.graphName("encoder.layer." + l + "." + m + ".weight"))).distinct().count();
    assertThat(distinct).isEqualTo(36);
    float[] ln = weights.get("encoder.layer.0.attention.output.LayerNorm.weight");
    assertThat(ln).hasSize(384);
    assertThat(weights.contains("encoder.layer.6.output.dense.weight")).isFalse();
    // names() lists the graph's own names: generated MatMul names, not their module aliases.
    assertThat(weights.names()).doesNotHaveDuplicates()
        .contains("embeddings.word_embeddings.weight", weights.graphName("encoder.layer.5.output.dense.weight"))
        .doesNotContain("encoder.layer.5.output.dense.weight")
        .allSatisfy(name -> assertThat(weights.graphName(name)).isEqualTo(name));
  }

  @Test
  void patchingWithTheSameValuesGivesTheSameBytes() {
    Map<String, float[]> same = Map.of("encoder.layer.3.attention.self.key.weight",
        weights.get("encoder.layer.3.attention.self.key.weight"), "embeddings.LayerNorm.bias",
        weights.get("embeddings.LayerNorm.bias"));
    assertThat(Arrays.equals(weights.patched(same), onnx)).isTrue();
  }

  @Test
  void thePatchedGraphRunsWithTheNewValues() {
    // The last LayerNorm with γ = 0 and β = c makes every token state exactly c: the patch reached the computation.
    long seed = System.nanoTime();
    Random random = new Random(seed);
    float[] c = new float[384];
    for (int i = 0; i < c.length; i++) {
      c[i] = (float) random.nextGaussian();
    }
    byte[] patched = weights.patched(Map.of("encoder.layer.5.output.LayerNorm.weight", new float[384],
        "encoder.layer.5.output.LayerNorm.bias", c));
    assertThat(patched).hasSize(onnx.length);
    assertThat(OnnxWeights.read(patched).get("encoder.layer.5.output.LayerNorm.bias")).containsExactly(c);
    try (TextTokenizer tokenizer = TextTokenizer.load(BackboneSource.MINILM_L6_V2);
        OnnxBackbone backbone = OnnxBackbone.create(patched, 1, ExecutionProvider.CPU)) {
      TokenStates states = backbone.run(tokenizer.encode(List.of("a protein that binds DNA", "hi"), 64));
      for (int b = 0; b < states.batch(); b++) {
        for (int t = 0; t < states.tokens(); t++) {
          float[] row = Arrays.copyOfRange(states.data(), (b * states.tokens() + t) * 384,
              (b * states.tokens() + t + 1) * 384);
          assertThat(row).as("seed %d, text %d, token %d", seed, b, t).containsExactly(c);
        }
      }
    }
  }

  @Test
  void refusesWhatItCannotPatchOrRead() {
    assertThatThrownBy(() -> weights.patched(Map.of("encoder.layer.0.output.dense.weight", new float[3])))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[1536, 384]");
    assertThatThrownBy(() -> weights.get("no.such.weight")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no.such.weight");
    byte[] garbage = new byte[64];
    new Random(7).nextBytes(garbage);
    assertThatThrownBy(() -> OnnxWeights.read(garbage)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an ONNX model");
  }
}
