package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Tensor;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHead.Branch;
import io.d2search.rank.IemHead.Input;
import io.d2search.testkit.Randomized;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The cosine start of a fresh IEM, through the serving forward: its logit is 20·q·p on either branch. */
class IemInitTest {
  private static final int D = 384;

  @ParameterizedTest
  @EnumSource(value = Input.class, names = {"INTERACTION", "INTERACTION_ONLY"})
  void aCosineStartScoresTwentyTimesTheDotProductOnBothBranches(Input input) {
    long seed = Randomized.seed("IemInitTest");
    Random random = new Random(seed);
    HeadsSpec spec = HeadsSpec.of(D, 8, input);
    IemHead iem = HeadTensors.iem(StudentHeads.initialTensors(spec, random.nextLong(), IemInit.COSINE), input);
    for (int round = 0; round < 20; round++) {
      float[] q = unit(random);
      List<float[]> ps = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        // Some near the query, some far: cosines across (−1, 1), so both ReLU units are exercised.
        ps.add(i % 3 == 0 ? near(q, random) : unit(random));
      }
      if (round == 0) {
        ps.add(q.clone());
        ps.add(negated(q));
      }
      for (Branch branch : Branch.values()) {
        float[] logits = iem.logits(q, ps, branch);
        for (int i = 0; i < ps.size(); i++) {
          assertThat(logits[i]).as("seed %d, branch %s, passage %d", seed, branch, i)
              .isCloseTo(IemInit.COSINE_SCALE * dot(q, ps.get(i)), within(1e-4f));
        }
      }
    }
  }

  @Test
  void aCosineStartChangesOnlyItsUnitsOfTheRandomStart() {
    HeadsSpec spec = HeadsSpec.of(D, 8, Input.INTERACTION);
    Map<String, Tensor> random = StudentHeads.initialTensors(spec, 7, IemInit.RANDOM);
    Map<String, Tensor> cosine = StudentHeads.initialTensors(spec, 7, IemInit.COSINE);
    assertThat(cosine.keySet()).containsExactlyElementsOf(random.keySet());
    int h = spec.iemHidden();
    random.forEach((name, t) -> {
      float[] a = t.data();
      float[] b = cosine.get(name).data();
      int from = switch (name) {
        case IemBlock.FC1_WEIGHT -> 2 * 4 * D; // rows 0 and 1
        case IemBlock.FC1_BIAS, IemBlock.PROJ0_BIAS, IemBlock.PROJ1_BIAS -> 2;
        case IemBlock.PROJ0_WEIGHT, IemBlock.PROJ1_WEIGHT -> 2 * h;
        case IemBlock.OUT_WEIGHT, IemBlock.OUT_BIAS -> a.length; // all of it: only units 0 and 1 speak
        default -> 0;
      };
      assertThat(Arrays.copyOfRange(b, from, b.length)).as(name).isEqualTo(Arrays.copyOfRange(a, from, a.length));
    });
    assertThat(StudentHeads.initialTensors(spec, 7)).usingRecursiveComparison().isEqualTo(random);
  }

  @Test
  void aCosineStartNeedsTheInteractionInput() {
    assertThatThrownBy(() -> StudentHeads.initialTensors(HeadsSpec.of(D, 8, Input.CONCAT), 1, IemInit.COSINE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("interaction");
    assertThat(IemInit.defaultFor(Input.INTERACTION)).isEqualTo(IemInit.COSINE);
    assertThat(IemInit.defaultFor(Input.INTERACTION_ONLY)).isEqualTo(IemInit.COSINE);
    assertThat(IemInit.defaultFor(Input.CONCAT)).isEqualTo(IemInit.RANDOM);
    assertThat(IemInit.fromId("cosine")).isEqualTo(IemInit.COSINE);
    assertThatThrownBy(() -> IemInit.fromId("zero")).hasMessageContaining("random or cosine");
  }

  private static float[] unit(Random random) {
    float[] v = new float[D];
    for (int i = 0; i < D; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return normalised(v);
  }

  private static float[] near(float[] q, Random random) {
    float[] v = unit(random);
    double w = random.nextDouble() * 4;
    for (int i = 0; i < D; i++) {
      v[i] = (float) (v[i] + w * q[i]);
    }
    return normalised(v);
  }

  private static float[] negated(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = -v[i];
    }
    return out;
  }

  private static float[] normalised(float[] v) {
    double norm = Math.sqrt(dot(v, v));
    for (int i = 0; i < v.length; i++) {
      v[i] /= (float) norm;
    }
    return v;
  }

  private static float dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return (float) s;
  }
}
