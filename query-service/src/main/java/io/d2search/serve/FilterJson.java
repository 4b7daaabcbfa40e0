package io.d2search.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2search.index.Filter;
import io.d2search.index.InvalidFilterException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads the JSON form of a {@link Filter}, as {@code POST /search} and {@code d2search search --filter} take it: an
 * object of attribute name → condition, all of which must hold.
 *
 * <pre>
 * {"lang": "en",                            exact value
 *  "source": ["pubmed", "arxiv"],           any of these values
 *  "year": {"gte": 2015, "lt": 2020},       range: gt, gte, lt, lte (long, double and date attributes)
 *  "published": {"gte": "2024-01-01"}}      dates as ISO-8601 instants, yyyy-mm-dd, or epoch milliseconds
 * </pre>
 *
 * <p>Values are strings, numbers or booleans (read as their text); the attribute's declared type reads them when the
 * filter is applied. Anything else is an {@link InvalidFilterException} naming the attribute.
 */
public final class FilterJson {
  private FilterJson() {}

  /** @param node the {@code filter} member; null or JSON null is {@link Filter#NONE} */
  public static Filter parse(JsonNode node) {
    if (node == null || node.isNull()) {
      return Filter.NONE;
    }
    if (!node.isObject()) {
      throw new InvalidFilterException("must be an object of attribute name -> value, [values] or {range}");
    }
    List<Filter.Condition> conditions = new ArrayList<>();
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      conditions.add(condition(field.getKey(), field.getValue()));
    }
    return new Filter(conditions);
  }

  private static Filter.Condition condition(String field, JsonNode value) {
    if (value.isArray()) {
      List<String> values = new ArrayList<>();
      for (JsonNode v : value) {
        values.add(scalar(field, v));
      }
      return new Filter.AnyOf(field, values);
    }
    if (value.isObject()) {
      String gt = null;
      String gte = null;
      String lt = null;
      String lte = null;
      for (Map.Entry<String, JsonNode> bound : value.properties()) {
        String v = scalar(field, bound.getValue());
        switch (bound.getKey()) {
          case "gt" -> gt = v;
          case "gte" -> gte = v;
          case "lt" -> lt = v;
          case "lte" -> lte = v;
          default -> throw new InvalidFilterException(field + ": unknown range bound '" + bound.getKey()
              + "' (gt, gte, lt, lte)");
        }
      }
      if (gt != null && gte != null || lt != null && lte != null) {
        throw new InvalidFilterException(field + ": give gt or gte, and lt or lte, not both");
      }
      return new Filter.Range(field, gt != null ? gt : gte, gt == null, lt != null ? lt : lte, lt == null);
    }
    return new Filter.AnyOf(field, List.of(scalar(field, value)));
  }

  private static String scalar(String field, JsonNode v) {
    if (v.isTextual()) {
      return v.textValue();
    }
    if (v.isNumber() || v.isBoolean()) {
      return v.asText();
    }
    throw new InvalidFilterException(field + ": values must be strings, numbers or booleans, not " + v.getNodeType()
        .toString().toLowerCase(java.util.Locale.ROOT));
  }
}
