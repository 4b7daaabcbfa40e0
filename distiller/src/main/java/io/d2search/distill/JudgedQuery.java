package io.d2search.distill;

import java.util.List;
import java.util.Objects;

/**
 * A training query and the documents judged (or clicked) relevant to it.
 *
 * @param id stable query id (held-out slices are drawn by it)
 * @param text the query text
 * @param positives ids of relevant documents, at least one, distinct
 */
public record JudgedQuery(String id, String text, List<String> positives) {
  public JudgedQuery {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(text, "text");
    positives = List.copyOf(positives);
    if (positives.isEmpty()) {
      throw new IllegalArgumentException("query " + id + " has no positive");
    }
    if (positives.stream().distinct().count() != positives.size()) {
      throw new IllegalArgumentException("query " + id + " lists a positive twice");
    }
  }
}
