package io.d2search.schemas;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * How a document attribute is indexed for filtering. Attribute values travel as strings ({@code DocumentEvent
 * .attributes}); the type says how to read them.
 */
public enum AttributeType {
  /** Exact string match (the rule for every attribute not declared otherwise). */
  KEYWORD,
  /** A 64-bit integer: exact match and ranges. */
  LONG,
  /** A double: exact match and ranges. */
  DOUBLE,
  /**
   * An instant, given as ISO-8601 ({@code 2024-05-01T12:00:00Z}) or a day ({@code 2024-05-01}, its start in UTC),
   * or as epoch milliseconds in a filter; indexed as epoch milliseconds: exact match and ranges.
   */
  DATE;

  /** The type named {@code keyword}, {@code long}, {@code double} or {@code date} (any case). */
  public static AttributeType parse(String name) {
    try {
      return valueOf(name.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown attribute type '" + name + "' (keyword, long, double or date)");
    }
  }

  /** Whether range conditions apply. */
  public boolean ordered() {
    return this != KEYWORD;
  }

  /**
   * The value as a sortable long: the long itself, epoch milliseconds of a date, or the sortable bits of a double
   * ({@code NumericUtils.doubleToSortableLong}) are what the point fields index.
   *
   * @throws IllegalArgumentException if the value is not of this type, or this is {@link #KEYWORD}
   */
  public long parseLong(String value) {
    String v = value.strip();
    try {
      return switch (this) {
        case LONG -> Long.parseLong(v);
        case DATE -> parseDate(v);
        case DOUBLE, KEYWORD -> throw new IllegalStateException(this + " is not read as a long");
      };
    } catch (NumberFormatException | DateTimeParseException e) {
      throw new IllegalArgumentException("'" + value + "' is not a " + name().toLowerCase(Locale.ROOT)
          + (this == DATE ? " (ISO-8601 instant, yyyy-mm-dd, or epoch milliseconds)" : ""));
    }
  }

  /** @throws IllegalArgumentException if the value is not a finite double */
  public static double parseDouble(String value) {
    try {
      double d = Double.parseDouble(value.strip());
      if (Double.isFinite(d)) {
        return d;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("'" + value + "' is not a double");
  }

  private static long parseDate(String v) {
    if (v.matches("-?\\d+")) {
      return Long.parseLong(v); // epoch milliseconds
    }
    if (v.length() == 10) {
      return LocalDate.parse(v).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }
    return Instant.parse(v).toEpochMilli();
  }
}
