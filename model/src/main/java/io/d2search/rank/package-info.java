/**
 * Re-ranking of ANN candidates: {@link io.d2search.rank.IemHead}, the D2LLM interaction emulation module that scores
 * a (query, passage) pair from their stored vectors, and {@link io.d2search.rank.Reranker}, the one rule that orders
 * a first stage's candidates by its logits (equal logits keep the first-stage order).
 */
package io.d2search.rank;
