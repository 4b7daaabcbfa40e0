package io.d2search.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The vectors of a batch of pairs, each distinct sentence encoded once (SNLI repeats every premise ~3 times). */
final class PairVectors {
  private final float[][] vectors;
  private final int[] first;
  private final int[] second;

  private PairVectors(float[][] vectors, int[] first, int[] second) {
    this.vectors = vectors;
    this.first = first;
    this.second = second;
  }

  /** Encodes the distinct texts of both lists in one encoder call. */
  static PairVectors encode(Function<List<String>, List<float[]>> encoder, List<String> a, List<String> b) {
    if (a.size() != b.size()) {
      throw new IllegalArgumentException("pair lists differ in length: " + a.size() + " vs " + b.size());
    }
    Map<String, Integer> index = new HashMap<>();
    List<String> distinct = new ArrayList<>();
    int[] first = new int[a.size()];
    int[] second = new int[b.size()];
    for (int i = 0; i < a.size(); i++) {
      first[i] = index.computeIfAbsent(a.get(i), t -> add(distinct, t));
      second[i] = index.computeIfAbsent(b.get(i), t -> add(distinct, t));
    }
    List<float[]> encoded = distinct.isEmpty() ? List.of() : encoder.apply(distinct);
    if (encoded.size() != distinct.size()) {
      throw new IllegalStateException("encoder returned " + encoded.size() + " vectors for " + distinct.size() + " texts");
    }
    return new PairVectors(encoded.toArray(float[][]::new), first, second);
  }

  private static int add(List<String> distinct, String text) {
    distinct.add(text);
    return distinct.size() - 1;
  }

  float[] first(int pair) {
    return vectors[first[pair]];
  }

  float[] second(int pair) {
    return vectors[second[pair]];
  }

  /** Cosine in double; 0 when either vector is zero. */
  static double cosine(float[] x, float[] y) {
    if (x.length != y.length) {
      throw new IllegalArgumentException("vector lengths differ: " + x.length + " vs " + y.length);
    }
    double dot = 0;
    double xx = 0;
    double yy = 0;
    for (int i = 0; i < x.length; i++) {
      dot += (double) x[i] * y[i];
      xx += (double) x[i] * x[i];
      yy += (double) y[i] * y[i];
    }
    return xx == 0 || yy == 0 ? 0 : dot / Math.sqrt(xx * yy);
  }
}
