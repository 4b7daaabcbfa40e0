/**
 * Re-ranking of ANN candidates: {@link io.d2search.rank.IemHead}, the D2LLM interaction emulation module that scores
 * a (query, passage) pair from their stored vectors.
 */
package io.d2search.rank;
