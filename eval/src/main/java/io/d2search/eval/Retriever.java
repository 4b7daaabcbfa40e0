package io.d2search.eval;

import java.util.List;

/** Ranks corpus documents for a query. Implementations are used from one thread. */
public interface Retriever {
  /** Row label in the results table. */
  String name();

  /** The top {@code k} documents for the query, best first. */
  List<ScoredDoc> search(String query, int k);
}
