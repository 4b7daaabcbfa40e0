package io.d2search.eval;

/** A document and its retrieval score (higher is better). */
public record ScoredDoc(String docId, double score) {}
