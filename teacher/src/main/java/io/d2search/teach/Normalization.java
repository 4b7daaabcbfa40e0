package io.d2search.teach;

import java.util.List;
import java.util.Objects;

/**
 * How the {@link EnsembleTeacher} puts its components on one scale before the weighted sum.
 *
 * <ul>
 *   <li>{@link Mode#PER_CALL}: each component is z-scored over the passages of the call. Removes each
 *       component's per-query offset and spread, but a passage's score then depends on the other passages: its
 *       effective weights ({@code w / std}) and its calibration change with the size and make-up of the candidate
 *       set.</li>
 *   <li>{@link Mode#GLOBAL}: each component is standardised with fixed constants ({@code (s − center) / scale},
 *       fitted once on training candidates). Pointwise: a (query, passage) pair always gets the same score, as an
 *       LLM teacher's would, so cached scores and the calibration hold for any candidate set.</li>
 * </ul>
 *
 * @param mode which of the two
 * @param centers per component (dense models, then BM25), used by {@code GLOBAL}; empty for {@code PER_CALL}
 * @param scales per component, positive, used by {@code GLOBAL}; empty for {@code PER_CALL}
 */
public record Normalization(Mode mode, List<Double> centers, List<Double> scales) {

  /** See {@link Normalization}. */
  public enum Mode { PER_CALL, GLOBAL }

  public Normalization {
    Objects.requireNonNull(mode, "mode");
    centers = List.copyOf(centers);
    scales = List.copyOf(scales);
    if (mode == Mode.PER_CALL && (!centers.isEmpty() || !scales.isEmpty())) {
      throw new IllegalArgumentException("PER_CALL takes no centers or scales");
    }
    if (mode == Mode.GLOBAL) {
      if (centers.isEmpty() || centers.size() != scales.size()) {
        throw new IllegalArgumentException("GLOBAL needs one center and one scale per component: " + centers
            + ", " + scales);
      }
      for (int i = 0; i < centers.size(); i++) {
        if (!Double.isFinite(centers.get(i)) || !(scales.get(i) > 0) || Double.isInfinite(scales.get(i))) {
          throw new IllegalArgumentException("centers must be finite and scales positive: " + centers + ", "
              + scales);
        }
      }
    }
  }

  /** z-scores over each call's passages. */
  public static Normalization perCall() {
    return new Normalization(Mode.PER_CALL, List.of(), List.of());
  }

  /** Fixed standardisation per component. */
  public static Normalization global(List<Double> centers, List<Double> scales) {
    return new Normalization(Mode.GLOBAL, centers, scales);
  }

  /** One component's scores over a call's passages, normalised. */
  public double[] apply(int component, double[] raw) {
    if (mode == Mode.PER_CALL) {
      return EnsembleTeacher.zScores(raw);
    }
    double c = centers.get(component);
    double s = scales.get(component);
    double[] out = new double[raw.length];
    for (int i = 0; i < raw.length; i++) {
      out[i] = (raw[i] - c) / s;
    }
    return out;
  }
}
