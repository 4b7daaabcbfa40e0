package io.d2search.index;

/** A {@link Filter} that cannot be applied: malformed, of the wrong type, or on an attribute the index lacks. */
public final class InvalidFilterException extends IllegalArgumentException {
  public InvalidFilterException(String message) {
    super("filter: " + message);
  }
}
