package io.d2search.nn;

/**
 * A batch of dot products with a layer's weight rows: {@code y[b][r] += W[r]·x[b]} for every row {@code r} of a
 * {@link Linear} and every input {@code b < n}. The re-ranker's work is this product (a query against a hundred
 * passages), so how it is computed decides its cost.
 *
 * <p>Three implementations give the same values up to float rounding (their summation orders differ):
 * <ul>
 *   <li>{@link #scalar()}: plain loops, what runs where no SIMD is available;
 *   <li>{@link #dotProducts()}: one Lucene {@code VectorUtil.dotProduct} per output (SIMD when the JVM has
 *       {@code jdk.incubator.vector}, else scalar): every weight row is read once per input;
 *   <li>{@link #panama()}: a register-blocked kernel on the Panama Vector API that computes four rows against four
 *       inputs at once, so each vector loaded from memory feeds four multiply-adds instead of one.
 * </ul>
 * {@link #best()} is the Panama kernel when the {@code jdk.incubator.vector} module is present, else the scalar one.
 *
 * <p>Implementations are stateless and thread-safe.
 */
public interface MatMul {

  /**
   * Adds {@code W[r]·x[b]} to {@code y[b][r]} for {@code r < layer.out()}, {@code b < n}. Each {@code x[b]} has
   * length {@code layer.in()}, each {@code y[b]} at least {@code layer.out()}; bias is not added.
   */
  void accumulate(Linear layer, float[][] x, int n, float[][] y);

  /** The implementation's name, for benchmarks and logs. */
  String name();

  /** Plain Java loops. */
  static MatMul scalar() {
    return Kernels.SCALAR;
  }

  /** One Lucene {@code VectorUtil.dotProduct} per output. */
  static MatMul dotProducts() {
    return Kernels.DOT_PRODUCTS;
  }

  /**
   * The register-blocked Panama kernel.
   *
   * @throws UnsupportedOperationException when the JVM was started without {@code --add-modules
   *     jdk.incubator.vector}
   */
  static MatMul panama() {
    if (Kernels.PANAMA == null) {
      throw new UnsupportedOperationException("the Panama kernel needs the JVM flag --add-modules "
          + "jdk.incubator.vector");
    }
    return Kernels.PANAMA;
  }

  /** {@link #panama()} where the JVM has the Vector API, else {@link #scalar()}. */
  static MatMul best() {
    return Kernels.PANAMA != null ? Kernels.PANAMA : Kernels.SCALAR;
  }
}
