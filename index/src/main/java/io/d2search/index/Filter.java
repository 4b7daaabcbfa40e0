package io.d2search.index;

import java.util.List;
import java.util.Objects;

/**
 * Conditions on document attributes that every result must meet (all of them: AND). Values are given as text and
 * read by each attribute's {@link AttributeType} when the filter is applied; a value of the wrong type, a range on a
 * keyword attribute, or an attribute the index does not know is an {@link InvalidFilterException}.
 *
 * <p>Applied inside both retrievers: the HNSW search explores the graph among matching passages only
 * (pre-filtering: k results come back whenever k passages match), and BM25 scores matching passages only.
 *
 * @param conditions at least zero; {@link #NONE} has none
 */
public record Filter(List<Condition> conditions) {
  /** No condition: every passage. */
  public static final Filter NONE = new Filter(List.of());

  public Filter {
    conditions = List.copyOf(conditions);
  }

  /** A filter of these conditions. */
  public static Filter of(Condition... conditions) {
    return new Filter(List.of(conditions));
  }

  /** Whether the filter has no condition. */
  public boolean isEmpty() {
    return conditions.isEmpty();
  }

  /** One condition, on one attribute. */
  public sealed interface Condition {
    /** The attribute it tests. */
    String field();
  }

  /**
   * The attribute equals one of the values.
   *
   * @param values one or more
   */
  public record AnyOf(String field, List<String> values) implements Condition {
    public AnyOf {
      Objects.requireNonNull(field, "field");
      values = List.copyOf(values);
      if (values.isEmpty()) {
        throw new InvalidFilterException(field + ": give at least one value");
      }
    }
  }

  /**
   * The attribute lies in a range; each bound is optional (null), at least one is given.
   *
   * @param lower lower bound, or null
   * @param lowerInclusive whether the lower bound itself matches
   * @param upper upper bound, or null
   * @param upperInclusive whether the upper bound itself matches
   */
  public record Range(String field, String lower, boolean lowerInclusive, String upper, boolean upperInclusive)
      implements Condition {
    public Range {
      Objects.requireNonNull(field, "field");
      if (lower == null && upper == null) {
        throw new InvalidFilterException(field + ": a range needs gt, gte, lt or lte");
      }
    }
  }
}
