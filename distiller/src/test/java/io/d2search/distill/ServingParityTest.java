package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Tensor;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.PmaHead;
import io.d2search.embed.TokenStates;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The DJL training forward ({@link PmaBlock}, {@link IemBlock}) and the Java serving forward ({@link PmaHead},
 * {@link IemHead} of the model module) compute the same function: max abs difference ≤ 1e-4 on random weights and
 * inputs (seed printed), and on real all-MiniLM-L6-v2 token states. The weights travel through a real
 * {@code heads.safetensors} file, as they do from the distiller to the query service.
 */
class ServingParityTest {
  private static final double TOLERANCE = 1e-4;
  private static NDManager manager;

  @TempDir Path dir;

  @BeforeAll
  static void start() {
    manager = Djl.manager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  /** Random tensors for every head parameter, scaled so activations stay O(1) (weights ~ N(0, 1/in)). */
  private static Map<String, Tensor> randomTensors(Random r, HeadsSpec spec) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    Map<String, Shape> shapes = new LinkedHashMap<>(PmaBlock.shapes(spec.dimension()));
    shapes.putAll(IemBlock.shapes(spec.dimension(), spec.iemInput(), spec.iemHidden()));
    shapes.forEach((name, s) -> {
      int n = Math.toIntExact(s.size());
      double std = s.dimension() == 2 ? 1 / Math.sqrt(s.get(1)) : 0.1;
      float[] v = Djl.gaussian(r, std, n);
      if (name.endsWith("ln0.weight") || name.endsWith("ln1.weight")) {
        for (int i = 0; i < n; i++) {
          v[i] += 1;
        }
      }
      if (name.equals(PmaBlock.SEED)) {
        v = Djl.gaussian(r, 1, n);
      }
      out.put(name, new Tensor(StudentHeads.intShape(s), v));
    });
    return out;
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertThat(a).hasSameSizeAs(b);
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  @ParameterizedTest
  @EnumSource(IemHead.Input.class)
  void randomWeightsAndInputs(IemHead.Input input) {
    long seed = new Random().nextLong();
    System.out.println("ServingParityTest seed " + seed + " input " + input);
    Random r = new Random(seed);
    HeadsSpec spec = new HeadsSpec(32, 4, input, IemBlock.DEFAULT_HIDDEN);
    Path file = dir.resolve("heads-" + input + ".safetensors");
    try (NDManager m = manager.newSubManager();
        StudentHeads heads = StudentHeads.fromTensors(m, randomTensors(r, spec), spec.heads(), spec.iemInput())) {
      heads.save(file, Map.of("test", "parity"));
      Map<String, Tensor> stored = HeadsFile.read(file);
      assertThat(stored).isEqualTo(heads.toTensors());
      PmaHead pma = HeadTensors.pma(stored, spec.heads());
      IemHead iem = HeadTensors.iem(stored, input);

      // 4 sequences of 9 tokens with 0, 3, 8 and 1 padding tokens
      int b = 4;
      int t = 9;
      int d = spec.dimension();
      float[] states = Djl.gaussian(r, 1, b * t * d);
      long[][] mask = new long[b][t];
      int[] real = {9, 6, 1, 8};
      float[] flatMask = new float[b * t];
      for (int i = 0; i < b; i++) {
        for (int k = 0; k < real[i]; k++) {
          mask[i][k] = 1;
          flatMask[i * t + k] = 1;
        }
      }
      NDArray pooled = heads.pma().forward(m.create(states, new Shape(b, t, d)), m.create(flatMask, new Shape(b, t)));
      TokenStates ts = new TokenStates(states, b, t, d, mask);
      List<float[]> served = new ArrayList<>();
      double worst = 0;
      for (int i = 0; i < b; i++) {
        float[] expected = pma.pool(ts, i);
        served.add(expected);
        worst = Math.max(worst, maxAbsDiff(pooled.get(i).toFloatArray(), expected));
      }
      System.out.printf("PMA max abs diff %.3g%n", worst);
      assertThat(worst).isLessThanOrEqualTo(TOLERANCE);

      // IEM: every pooled query against every pooled passage, both branches
      for (IemHead.Branch branch : IemHead.Branch.values()) {
        NDArray logits = heads.requireIem().pairwiseLogits(pooled, pooled, branch);
        NDArray grid = pooled.expandDims(1).broadcast(new Shape(b, b, d));
        NDArray features = heads.requireIem().forward(grid, grid.transpose(1, 0, 2), branch).features();
        double worstLogit = 0;
        double worstFeature = 0;
        for (int i = 0; i < b; i++) {
          float[] servedLogits = iem.logits(served.get(i), served, branch);
          worstLogit = Math.max(worstLogit, maxAbsDiff(logits.get(i).toFloatArray(), servedLogits));
          for (int j = 0; j < b; j++) {
            worstFeature = Math.max(worstFeature,
                maxAbsDiff(features.get(i, j).toFloatArray(), iem.feature(served.get(i), served.get(j), branch)));
          }
        }
        System.out.printf("IEM %s logits max abs diff %.3g, features %.3g%n", branch, worstLogit, worstFeature);
        assertThat(worstLogit).isLessThanOrEqualTo(TOLERANCE);
        assertThat(worstFeature).isLessThanOrEqualTo(TOLERANCE);
      }
    }
  }

  @Test
  void realMiniLmTokenStates() {
    long seed = new Random().nextLong();
    System.out.println("ServingParityTest MiniLM seed " + seed);
    Random r = new Random(seed);
    HeadsSpec spec = HeadsSpec.of(384, 8, IemHead.Input.INTERACTION);
    List<String> texts = List.of("What is the capital of France?",
        "Paris is the capital and most populous city of France, on the Seine.",
        "A man is eating food.",
        "Cellular senescence limits the proliferation of damaged cells and is a barrier against cancer.");
    EmbedderConfig config = EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(1);
    try (NDManager m = manager.newSubManager();
        StudentHeads heads = StudentHeads.fromTensors(m, randomTensors(r, spec), spec.heads(), spec.iemInput())) {
      Map<String, Tensor> tensors = heads.toTensors();
      PmaHead pma = HeadTensors.pma(tensors, spec.heads());
      IemHead iem = HeadTensors.iem(tensors, spec.iemInput());
      try (Embedder embedder = Embedder.create(config, pma)) {
        TokenStates ts = embedder.tokenStates(texts);
        float[] flatMask = new float[ts.batch() * ts.tokens()];
        for (int i = 0; i < ts.batch(); i++) {
          for (int k = 0; k < ts.tokens(); k++) {
            flatMask[i * ts.tokens() + k] = ts.mask()[i][k];
          }
        }
        NDArray pooled = heads.pma().forward(m.create(ts.data(), new Shape(ts.batch(), ts.tokens(), ts.dim())),
            m.create(flatMask, new Shape(ts.batch(), ts.tokens())));
        // the serving path end to end: tokenizer, ONNX backbone, PMA
        List<float[]> served = embedder.embed(texts);
        double worst = 0;
        for (int i = 0; i < texts.size(); i++) {
          worst = Math.max(worst, maxAbsDiff(pooled.get(i).toFloatArray(), served.get(i)));
        }
        System.out.printf("MiniLM PMA max abs diff %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(TOLERANCE);
        NDArray logits = heads.requireIem().pairwiseLogits(pooled, pooled, IemHead.Branch.ASYMMETRIC);
        double worstLogit = 0;
        for (int i = 0; i < texts.size(); i++) {
          worstLogit = Math.max(worstLogit, maxAbsDiff(logits.get(i).toFloatArray(),
              iem.logits(served.get(i), served, IemHead.Branch.ASYMMETRIC)));
        }
        System.out.printf("MiniLM IEM max abs diff %.3g%n", worstLogit);
        assertThat(worstLogit).isLessThanOrEqualTo(TOLERANCE);
      }
    }
  }

  /** The distiller's initial heads are the doc's version 0 (up to the fc_o bias, which LN1 cancels). */
  @Test
  void initialHeadsPoolLikeTheServingMeanInit() {
    HeadsSpec spec = HeadsSpec.of(16, 2, null);
    long seed = 42;
    Random r = new Random(seed);
    try (NDManager m = manager.newSubManager(); StudentHeads heads = StudentHeads.create(m, spec, seed)) {
      PmaHead reference = PmaHead.meanInit(16, 2, seed);
      assertThat(heads.toTensors().get(PmaBlock.SEED).data()).containsExactly(reference.seed());
      float[] states = Djl.gaussian(r, 1, 2 * 5 * 16);
      long[][] mask = {{1, 1, 1, 1, 1}, {1, 1, 0, 0, 0}};
      NDArray pooled = heads.pma().forward(m.create(states, new Shape(2, 5, 16)),
          m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, new Shape(2, 5)));
      TokenStates ts = new TokenStates(states, 2, 5, 16, mask);
      for (int i = 0; i < 2; i++) {
        assertThat(maxAbsDiff(pooled.get(i).toFloatArray(), reference.pool(ts, i))).isLessThanOrEqualTo(TOLERANCE);
      }
    }
  }
}
