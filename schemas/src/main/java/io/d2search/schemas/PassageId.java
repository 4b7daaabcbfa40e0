package io.d2search.schemas;

import java.util.Objects;

/**
 * The key of a passage: {@code docId#n}. Document ids may not contain {@code '#'}, so the split is unambiguous.
 *
 * @param docId the document id, never null or empty, without '#'
 * @param n the passage position in its document, {@code >= 0}
 */
public record PassageId(String docId, int n) {
  public PassageId {
    Objects.requireNonNull(docId, "docId");
    if (docId.isEmpty() || docId.indexOf('#') >= 0) {
      throw new IllegalArgumentException("document id must be non-empty and without '#': " + docId);
    }
    if (n < 0) {
      throw new IllegalArgumentException("passage number must be >= 0: " + n);
    }
  }

  /**
   * Parses {@code docId#n}, in the form {@link #toString()} writes only, so that one passage has one key.
   *
   * @throws IllegalArgumentException if the string has another shape
   */
  public static PassageId parse(String key) {
    int hash = key.lastIndexOf('#');
    if (hash <= 0 || hash == key.length() - 1) {
      throw new IllegalArgumentException("not a passage id (docId#n): " + key);
    }
    PassageId id;
    try {
      id = new PassageId(key.substring(0, hash), Integer.parseInt(key.substring(hash + 1)));
    } catch (IllegalArgumentException e) { // NumberFormatException included
      throw new IllegalArgumentException("not a passage id (docId#n): " + key, e);
    }
    // parseInt also takes "+1", "01" and non-ASCII digits: they would be other keys for the same passage.
    if (!id.toString().equals(key)) {
      throw new IllegalArgumentException("not a passage id (docId#n, n in canonical form): " + key);
    }
    return id;
  }

  @Override
  public String toString() {
    return docId + '#' + n;
  }
}
