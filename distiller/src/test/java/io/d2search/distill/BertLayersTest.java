package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.OnnxWeights;
import io.d2search.testkit.Randomized;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The DJL BERT layers against ONNX Runtime running the same bundled all-MiniLM-L6-v2 graph. */
class BertLayersTest {
  private static final double TOLERANCE = 1e-4;
  private static Embedder embedder;
  private static List<String> texts;

  @BeforeAll
  static void load() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(1));
    long seed = Randomized.seed("BertLayersTest");
    Random random = new Random(seed);
    String[] words = {"protein", "binding", "of", "the", "p53", "tumour", "suppressor", "in", "mice", "reduces",
        "insulin", "resistance", "cells", "COVID-19", "vaccination", "(95%", "CI)", "increases", "risk", "α-synuclein"};
    texts = new ArrayList<>(List.of("Vitamin D deficiency is associated with multiple sclerosis.", "hi"));
    for (int i = 0; i < 6; i++) {
      StringBuilder sb = new StringBuilder();
      for (int w = 0, n = 1 + random.nextInt(120); w < n; w++) {
        sb.append(words[random.nextInt(words.length)]).append(' ');
      }
      texts.add(sb.toString().strip());
    }
  }

  @AfterAll
  static void close() {
    embedder.close();
  }

  private static List<TokenSequence> onnxStates() {
    return TokenStateSource.of(embedder).compute(texts);
  }

  private static PartialBackbone partial(int layers) {
    return PartialBackbone.open(BackboneSource.MINILM_L6_V2, embedder.info().backboneSha256(),
        embedder.info().maxTokens(), layers, BertLayers.DEFAULT_HEADS, 4);
  }

  private static void assertClose(List<TokenSequence> actual, List<TokenSequence> expected) {
    for (int i = 0; i < expected.size(); i++) {
      TokenSequence a = actual.get(i);
      TokenSequence e = expected.get(i);
      assertThat(a.tokens()).as("text %d", i).isEqualTo(e.tokens());
      double max = 0;
      for (int j = 0; j < e.data().length; j++) {
        max = Math.max(max, Math.abs(a.data()[j] - e.data()[j]));
      }
      assertThat(max).as("max |DJL - ONNX| of text %d (%s)", i, texts.get(i)).isLessThanOrEqualTo(TOLERANCE);
    }
  }

  @Test
  void allLayersInDjlAreTheOnnxBackbone() {
    try (PartialBackbone all = partial(6)) {
      assertClose(all.compute(texts), onnxStates());
    }
  }

  /** 0 frozen layers is {@code --tune-layers 6}: the embeddings alone below, every layer trained. */
  @ParameterizedTest(name = "{0} frozen layers")
  @ValueSource(ints = {0, 4, 5})
  void frozenLowerLayersThenTheTopLayersAreTheOnnxBackbone(int frozen) {
    OnnxWeights weights = OnnxWeights.of(BackboneSource.MINILM_L6_V2);
    try (PartialBackbone lower = partial(frozen); NDManager manager = DjlRuntime.engine().newBaseManager()) {
      List<TokenSequence> middle = lower.compute(texts);
      Map<String, NDArray> params = new LinkedHashMap<>();
      BertLayers.tensors(weights, frozen, 6).forEach((name, t) ->
          params.put(name, Scalars.owned(manager, t.data(), StudentHeads.shapeOf(t))));
      BertLayers top = BertLayers.of(params, BertLayers.DEFAULT_HEADS);
      assertThat(top.size()).isEqualTo(6 - frozen);
      int width = middle.stream().mapToInt(TokenSequence::tokens).max().orElseThrow();
      int d = 384;
      float[] padded = new float[middle.size() * width * d];
      float[] mask = new float[middle.size() * width];
      for (int i = 0; i < middle.size(); i++) {
        System.arraycopy(middle.get(i).data(), 0, padded, i * width * d, middle.get(i).data().length);
        Arrays.fill(mask, i * width, i * width + middle.get(i).tokens(), 1f);
      }
      float[] out = top.forward(Scalars.owned(manager, padded, new Shape(middle.size(), width, d)),
          Scalars.owned(manager, mask, new Shape(middle.size(), width))).toFloatArray();
      List<TokenSequence> finalStates = new ArrayList<>();
      for (int i = 0; i < middle.size(); i++) {
        long[] m = new long[width];
        Arrays.fill(m, 0, middle.get(i).tokens(), 1);
        finalStates.add(TokenSequence.fromBatch(out, i, width, d, m));
      }
      assertClose(finalStates, onnxStates());
    }
  }

  @Test
  void partialStatesHaveTheirOwnCacheIdentity() {
    try (PartialBackbone two = partial(2); PartialBackbone four = partial(4)) {
      assertThat(two.backboneSha256()).hasSize(64).isNotEqualTo(four.backboneSha256())
          .isNotEqualTo(embedder.info().backboneSha256());
    }
    assertThatThrownBy(() -> partial(7)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("has 6 layers");
  }
}
