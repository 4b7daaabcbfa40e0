package io.d2search.data;

import java.util.List;
import java.util.Objects;

/**
 * Records read from a data file, with the number of lines that could not be read and were skipped.
 *
 * @param records the records in file order, immutable
 * @param skipped malformed lines left out (each one is logged as a warning)
 * @param <T> record type
 */
public record Loaded<T>(List<T> records, int skipped) {
  public Loaded {
    records = List.copyOf(Objects.requireNonNull(records, "records"));
    if (skipped < 0) {
      throw new IllegalArgumentException("skipped must be >= 0: " + skipped);
    }
  }
}
