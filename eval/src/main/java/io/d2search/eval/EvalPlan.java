package io.d2search.eval;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What one evaluation measures ({@link EvalRunner#run}): BM25, the bi-encoder and each student (HNSW and exact, and
 * its IEM re-rank when the bundle has one) on a BEIR dataset's judged queries; optionally the teacher re-ranking the
 * baseline's candidates, and the symmetric tasks. How models are loaded and vectors cached is the runner's
 * business, not the plan's.
 *
 * @param dataset BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/&lt;split&gt;.tsv)
 * @param split the qrels split evaluated
 * @param heldOut evaluate only the queries distill held out of {@code split} for the students (drawn again from
 *     their manifests; they must share one slice) instead of the whole split
 * @param unit what is embedded and indexed: whole documents, or passages chunked as the indexer chunks them
 * @param students model bundle versions (or bundle directories) to evaluate, in row order; version 0 becomes the
 *     baseline
 * @param rerankDepth documents re-ranked per query by the IEM and the teacher, {@code >= 1}
 * @param teacher the teacher's re-rank of the baseline's top {@code rerankDepth}, if wanted
 * @param symmetric data directory of the symmetric tasks (stsb/, snli/), if wanted
 */
public record EvalPlan(Path dataset, String split, boolean heldOut, Unit unit, List<String> students,
    int rerankDepth, Optional<TeacherRun> teacher, Optional<Path> symmetric) {

  /** Documents re-ranked per query unless told otherwise: the query service's default depth (K ≈ 100). */
  public static final int DEFAULT_RERANK_DEPTH = 100;

  /** What is embedded and indexed. */
  public enum Unit {
    /** Each document whole (title + text, truncated at the model's max tokens), as BEIR does. */
    WHOLE_DOCUMENTS,
    /** Each document cut into passages as the indexer cuts it; documents are scored by their best passage. */
    CHUNKED_PASSAGES
  }

  /**
   * The teacher's row.
   *
   * @param coldQueries also time this many queries of a teacher that encodes its candidates at query time, as a
   *     cross-encoder teacher must; 0 skips it
   */
  public record TeacherRun(int coldQueries) {
    /** @throws IllegalArgumentException if {@code coldQueries < 0} */
    public TeacherRun {
      if (coldQueries < 0) {
        throw new IllegalArgumentException("coldQueries must be >= 0: " + coldQueries);
      }
    }
  }

  /**
   * @throws IllegalArgumentException if {@code rerankDepth < 1}
   * @throws NullPointerException if a component is null
   */
  public EvalPlan {
    Objects.requireNonNull(dataset, "dataset");
    Objects.requireNonNull(split, "split");
    Objects.requireNonNull(unit, "unit");
    students = List.copyOf(students);
    Objects.requireNonNull(teacher, "teacher");
    Objects.requireNonNull(symmetric, "symmetric");
    if (rerankDepth < 1) {
      throw new IllegalArgumentException("rerankDepth must be >= 1: " + rerankDepth);
    }
  }

  /** The whole split, chunked passages, no student, no teacher, no symmetric tasks, depth {@value #DEFAULT_RERANK_DEPTH}. */
  public static EvalPlan of(Path dataset, String split) {
    return new EvalPlan(dataset, split, false, Unit.CHUNKED_PASSAGES, List.of(), DEFAULT_RERANK_DEPTH,
        Optional.empty(), Optional.empty());
  }

  /** This plan on the held-out queries of the students (true) or on the whole split (false). */
  public EvalPlan withHeldOut(boolean heldOut) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, teacher, symmetric);
  }

  public EvalPlan withUnit(Unit unit) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, teacher, symmetric);
  }

  public EvalPlan withStudents(List<String> students) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, teacher, symmetric);
  }

  public EvalPlan withRerankDepth(int rerankDepth) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, teacher, symmetric);
  }

  /** This plan with the teacher's row and, when {@code coldQueries > 0}, its cold timing. */
  public EvalPlan withTeacher(int coldQueries) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, Optional.of(new TeacherRun(coldQueries)),
        symmetric);
  }

  /** This plan with the symmetric tasks of this data directory. */
  public EvalPlan withSymmetric(Path dataDir) {
    return new EvalPlan(dataset, split, heldOut, unit, students, rerankDepth, teacher, Optional.of(dataDir));
  }
}
