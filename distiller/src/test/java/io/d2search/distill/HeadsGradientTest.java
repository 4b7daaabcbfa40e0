package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.d2search.rank.IemHead;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Autodiff of the PMA and IEM forwards against central finite differences, in float64 on a tiny head (d = 8,
 * h = 2, IEM hidden 6). For each tensor, a random direction U: the directional derivative ⟨∇f, U⟩ from autodiff
 * must equal (f(θ + εU) − f(θ − εU)) / 2ε. f mixes every output (PMA vectors, logits and features of both
 * branches) with fixed random weights, so every tensor gets a non-trivial gradient.
 */
class HeadsGradientTest {
  private static final int D = 8;
  private static final int HEADS = 2;
  private static final int HIDDEN = 6;
  private static final double EPS = 1e-6;
  private static NDManager manager;

  @BeforeAll
  static void start() {
    manager = Djl.manager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  @ParameterizedTest
  @EnumSource(IemHead.Input.class)
  void autodiffMatchesFiniteDifferences(IemHead.Input input) {
    // A fixed draw (-Dd2search.test.seed replays another): with some random draws every ReLU of the small branch
    // projection is dead, its gradient exactly zero, and the "not trivially zero" check below fails.
    long seed = Long.getLong("d2search.test.seed", 20261124L + input.ordinal());
    System.out.println("HeadsGradientTest seed " + seed + " input " + input);
    Random random = new Random(seed);
    try (NDManager m = manager.newSubManager()) {
      Map<String, NDArray> theta = new LinkedHashMap<>();
      PmaBlock.shapes(D).forEach((name, s) -> theta.put(name, Djl.gaussian(m, random, DataType.FLOAT64, 0.5,
          s.getShape())));
      IemBlock.shapes(D, input, HIDDEN).forEach((name, s) -> theta.put(name, Djl.gaussian(m, random,
          DataType.FLOAT64, 0.5, s.getShape())));
      // LayerNorm scales near 1 keep the normalisations well conditioned
      theta.put(PmaBlock.LN0_WEIGHT, theta.get(PmaBlock.LN0_WEIGHT).add(1));
      theta.put(PmaBlock.LN1_WEIGHT, theta.get(PmaBlock.LN1_WEIGHT).add(1));
      // 3 sequences of 5 tokens; the second has 2 padding tokens, the third 4
      NDArray states = Djl.gaussian(m, random, DataType.FLOAT64, 1.0, 3, 5, D);
      NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0}, new Shape(3, 5));
      NDArray wPool = Djl.gaussian(m, random, DataType.FLOAT64, 1.0, 3, D);
      NDArray wLogit = Djl.gaussian(m, random, DataType.FLOAT64, 1.0, 3, 3);
      NDArray wFeature = Djl.gaussian(m, random, DataType.FLOAT64, 1.0, 3, 3, HIDDEN);
      Function<Map<String, NDArray>, NDArray> f = params -> {
        PmaBlock pma = PmaBlock.of(params, HEADS);
        IemBlock iem = IemBlock.of(params, input);
        NDArray v = pma.forward(states, mask); // [3, d]
        NDArray total = v.mul(wPool).sum();
        for (IemHead.Branch branch : IemHead.Branch.values()) {
          total = total.add(iem.pairwiseLogits(v, v, branch).mul(wLogit).sum());
          NDArray grid = v.expandDims(1).broadcast(new Shape(3, 3, D));
          NDArray features = iem.forward(grid, grid.transpose(1, 0, 2), branch).features();
          total = total.add(features.mul(wFeature).sum());
        }
        return total;
      };

      Map<String, double[]> grads = new HashMap<>();
      theta.values().forEach(t -> t.setRequiresGradient(true));
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        gc.backward(f.apply(theta));
      }
      theta.forEach((name, t) -> grads.put(name, t.getGradient().toDoubleArray()));
      theta.values().forEach(t -> t.setRequiresGradient(false));

      for (Map.Entry<String, NDArray> e : theta.entrySet()) {
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray u = Djl.gaussian(m, random, DataType.FLOAT64, 1.0, e.getValue().getShape().getShape());
          double[] uv = u.toDoubleArray();
          double analytic = 0;
          double[] g = grads.get(e.getKey());
          for (int i = 0; i < g.length; i++) {
            analytic += g[i] * uv[i];
          }
          Map<String, NDArray> plus = new HashMap<>(theta);
          plus.put(e.getKey(), e.getValue().add(u.mul(EPS)));
          Map<String, NDArray> minus = new HashMap<>(theta);
          minus.put(e.getKey(), e.getValue().sub(u.mul(EPS)));
          double numeric = (f.apply(plus).getDouble() - f.apply(minus).getDouble()) / (2 * EPS);
          assertThat(analytic).as("directional derivative along %s (numeric %s)", e.getKey(), numeric)
              .isCloseTo(numeric, org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(numeric))));
          if (!e.getKey().equals(PmaBlock.FC_K_BIAS)) {
            // bk adds the same Q_j·bk_j to every token's score in head j, which the softmax cancels: its gradient
            // is exactly zero (the serving shortcut drops it for the same reason). Every other tensor must move f.
            assertThat(Math.abs(analytic)).as("gradient of %s is not trivially zero", e.getKey()).isGreaterThan(1e-9);
          }
        }
      }
    }
  }
}
