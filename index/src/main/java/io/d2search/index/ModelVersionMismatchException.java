package io.d2search.index;

/**
 * An embedding or a query vector of one model version met an index of another. Vectors of different model
 * versions live in different spaces, so one index only ever holds one version.
 */
public final class ModelVersionMismatchException extends IllegalArgumentException {

  private final String expected;
  private final String actual;

  public ModelVersionMismatchException(String expected, String actual) {
    super("model version " + actual + " does not match the index's model version " + expected
        + " (one index per model version; vectors of different versions are not comparable)");
    this.expected = expected;
    this.actual = actual;
  }

  /** The index's model version. */
  public String expected() {
    return expected;
  }

  /** The version that was offered. */
  public String actual() {
    return actual;
  }
}
