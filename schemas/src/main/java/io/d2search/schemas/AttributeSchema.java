package io.d2search.schemas;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The types of the document attributes an index filters on: those declared (setting {@code index.attributes}, e.g.
 * {@code year:long,published:date,price:double}), and {@link AttributeType#KEYWORD} for every other attribute. So a
 * document's attributes are all filterable by exact value without any configuration; ranges need a declaration.
 *
 * <p>The index is built for one schema: it is stamped into every commit, and opening an index with another schema
 * rebuilds it from the {@code embeddings} topic (a field indexed as keyword cannot be range-searched later).
 *
 * @param declared attribute name → type; names match {@link #NAME}
 */
public record AttributeSchema(Map<String, AttributeType> declared) {
  /** Attribute names that can be filtered on: letters, digits, {@code _ - .}, 1 to 64 of them. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

  /** Nothing declared: every attribute is a keyword. */
  public static final AttributeSchema KEYWORDS = new AttributeSchema(Map.of());

  public AttributeSchema {
    TreeMap<String, AttributeType> sorted = new TreeMap<>();
    Objects.requireNonNull(declared, "declared").forEach((name, type) -> {
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("attribute name '" + name + "' must match " + NAME.pattern());
      }
      sorted.put(name, Objects.requireNonNull(type, "type of " + name));
    });
    declared = Collections.unmodifiableMap(sorted);
  }

  /**
   * Reads the {@code index.attributes} setting: comma-separated {@code name:type} pairs; blank declares nothing.
   *
   * @throws IllegalArgumentException naming the pair that is not {@code name:type} with a known type
   */
  public static AttributeSchema parse(String spec) {
    Map<String, AttributeType> declared = new TreeMap<>();
    if (spec != null && !spec.isBlank()) {
      for (String pair : spec.split(",")) {
        int colon = pair.indexOf(':');
        if (colon < 0) {
          throw new IllegalArgumentException("index.attributes: '" + pair.strip() + "' is not name:type");
        }
        String name = pair.substring(0, colon).strip();
        if (declared.put(name, AttributeType.parse(pair.substring(colon + 1))) != null) {
          throw new IllegalArgumentException("index.attributes: '" + name + "' is declared twice");
        }
      }
    }
    return new AttributeSchema(declared);
  }

  /** The type of an attribute: its declared type, else keyword. */
  public AttributeType typeOf(String name) {
    return declared.getOrDefault(name, AttributeType.KEYWORD);
  }

  /**
   * Checks one attribute of a document against the schema: a filterable name, a value of the declared type.
   *
   * @throws IllegalArgumentException saying what is wrong with it
   */
  public void check(String name, String value) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("attribute name '" + name + "' must match " + NAME.pattern());
    }
    AttributeType type = typeOf(name);
    try {
      switch (type) {
        case KEYWORD -> { }
        case DOUBLE -> AttributeType.parseDouble(value);
        case LONG, DATE -> type.parseLong(value);
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("attribute " + name + ": " + e.getMessage());
    }
  }

  /** The canonical {@code name:type,...} form (sorted), as stamped into the index. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder();
    declared.forEach((name, type) -> s.append(s.isEmpty() ? "" : ",").append(name).append(':')
        .append(type.name().toLowerCase(java.util.Locale.ROOT)));
    return s.toString();
  }
}
