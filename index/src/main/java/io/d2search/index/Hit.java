package io.d2search.index;

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
 * @param score Lucene's {@code DOT_PRODUCT} score {@code (1 + q·p) / 2} of unit vectors, in [0, 1]; higher is
 *     more similar
 */
public record Hit(String passageId, String docId, int n, String title, String text, String url, float score) {
  public Hit {
    Objects.requireNonNull(passageId, "passageId");
    Objects.requireNonNull(docId, "docId");
    Objects.requireNonNull(text, "text");
  }
}
