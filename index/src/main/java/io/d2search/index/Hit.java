package io.d2search.index;

import java.util.Map;
import java.util.Objects;

/**
 * One search result.
 *
 * @param passageId passage id {@code docId#n}; never null
 * @param docId the document it belongs to; never null
 * @param n position of the passage in its document, from 0
 * @param title document title; may be null
 * @param text passage text; never null
 * @param url document URL; may be null
 * @param attributes the document's attributes; immutable, never null
 * @param score the score of the search that found it (higher is better): for a vector search Lucene's
 *     {@code DOT_PRODUCT} score {@code (1 + q·p) / 2} of unit vectors, in [0, 1]
 */
public record Hit(String passageId, String docId, int n, String title, String text, String url,
    Map<String, String> attributes, float score) {
  public Hit {
    attributes = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(attributes));
    Objects.requireNonNull(passageId, "passageId");
    Objects.requireNonNull(docId, "docId");
    Objects.requireNonNull(text, "text");
  }
}
