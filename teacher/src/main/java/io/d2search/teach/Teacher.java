package io.d2search.teach;

import java.util.List;

/**
 * A relevance teacher for distillation: for a question and candidate passages, the probability that each passage
 * answers the question, in {@code [0, 1]}. D2LLM's teacher is an LLM asked "does passage A answer question Q?
 * yes/no", scored as {@code softmax([z_yes, z_no] / T)[0]}; every implementation returns scores with that meaning,
 * whatever it computes them from.
 *
 * <p>Implementations are thread-safe: one instance serves concurrent callers. They are {@link AutoCloseable}
 * and close only what they created.
 */
public interface Teacher extends AutoCloseable {

  /**
   * Stable identity of what produces the scores: back-end kind, model ids and versions (or checksums), prompt and
   * temperature. Two teachers with the same id give the same scores; a cache keys scores by it, so anything that
   * changes a score must change the id.
   */
  String id();

  /**
   * Scores passages against one query.
   *
   * @param query the question; never null
   * @param passages candidate passages; never null, may be empty; elements never null
   * @return a new array, one relevance in {@code [0, 1]} per passage, in input order
   * @throws TeacherException if the back-end fails (the message says why, e.g. an HTTP status and body excerpt)
   */
  double[] score(String query, List<String> passages);

  /** Releases what this teacher created; the default does nothing. */
  @Override
  default void close() {}
}
