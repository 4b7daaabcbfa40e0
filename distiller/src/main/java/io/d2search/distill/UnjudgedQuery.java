package io.d2search.distill;

import java.util.Objects;
import java.util.Set;

/**
 * A training query nobody judged (a pseudo-query taken from the corpus): the teacher decides what answers it, among
 * what the index and BM25 return.
 *
 * @param id stable query id
 * @param text the query text
 * @param excluded documents never to put in its list: the one it was taken from (which would answer it trivially),
 *     and any held-out query's positives (which must not become training answers)
 */
public record UnjudgedQuery(String id, String text, Set<String> excluded) {
  public UnjudgedQuery {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(text, "text");
    excluded = Set.copyOf(excluded);
  }
}
