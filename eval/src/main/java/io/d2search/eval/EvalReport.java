package io.d2search.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What an {@link EvalRunner} measured: one typed row per system, query by query, and what the tables need to
 * compare them. {@link #text()} is the report as {@code eval} prints it.
 *
 * @param corpus what was searched
 * @param queries which judged queries were evaluated
 * @param rows the retrieval rows, in table order
 * @param baseline the HNSW row every other row is compared with (student v0 when evaluated, else the bi-encoder);
 *     one of {@code rows}
 * @param unseen the subset of queries unseen in a student's training, when a student trained on this dataset's
 *     judgements (its rows are a second table)
 * @param symmetric the symmetric tasks, when evaluated
 * @param coldTeacher the teacher's cost with nothing precomputed, when timed
 */
public record EvalReport(Corpus corpus, QuerySet queries, List<RetrievalRow> rows, EvalSystem.Dense baseline,
    Optional<UnseenQueries> unseen, Optional<SymmetricTasks> symmetric, Optional<ColdTeacher> coldTeacher) {

  /**
   * The searched corpus.
   *
   * @param dataset the dataset directory's name
   * @param documents documents in the corpus
   * @param passages passages embedded and indexed
   * @param unit whole documents or chunked passages
   * @param maxTokens the unit's token limit: the model's for whole documents, the chunker's for passages
   */
  public record Corpus(String dataset, int documents, int passages, EvalPlan.Unit unit, int maxTokens) {
    public Corpus {
      Objects.requireNonNull(dataset, "dataset");
      Objects.requireNonNull(unit, "unit");
    }

    /** The unit as the report's heading names it. */
    public String unitDescription() {
      return unit == EvalPlan.Unit.WHOLE_DOCUMENTS ? "whole documents (title + text, " + maxTokens + " tokens)"
          : "passages of " + maxTokens + " tokens, documents scored by their best passage";
    }
  }

  /**
   * The queries distill held out of a split for a bundle, drawn again from its manifest.
   *
   * @param version the bundle whose manifest defined the slice
   * @param kind {@code unseen} or {@code random}
   * @param queryIds the held-out query ids, in draw order
   */
  public record HeldOut(String version, String kind, List<String> queryIds) {
    public HeldOut {
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(kind, "kind");
      queryIds = List.copyOf(queryIds);
    }
  }

  /**
   * The evaluated queries.
   *
   * @param split the qrels split
   * @param heldOut the held-out slice the split was restricted to, if any
   * @param count queries evaluated
   */
  public record QuerySet(String split, Optional<HeldOut> heldOut, int count) {
    public QuerySet {
      Objects.requireNonNull(split, "split");
      Objects.requireNonNull(heldOut, "heldOut");
    }

    /** E.g. {@code test split} or {@code train split, held out by v12 (unseen)}. */
    public String description() {
      return split + " split" + heldOut.map(h -> ", held out by v" + h.version() + " (" + h.kind() + ")").orElse("");
    }
  }

  /**
   * One retrieval row: a system and its metrics query by query.
   *
   * @throws IllegalArgumentException if the run is not labelled as the system
   */
  public record RetrievalRow(EvalSystem system, Evaluation.Run run) {
    public RetrievalRow {
      Objects.requireNonNull(system, "system");
      Objects.requireNonNull(run, "run");
      if (!system.label().equals(run.system())) {
        throw new IllegalArgumentException("run '" + run.system() + "' is not labelled as " + system.label());
      }
    }

    /** Its metrics over every query. */
    public EvalRow row() {
      return run.row();
    }
  }

  /**
   * The queries none of whose relevant documents is a training positive of a student.
   *
   * @param queryIds those queries, in the dataset's order (means over them are summed in it); may be empty (e.g.
   *     when evaluating the training split itself)
   * @param version the student whose training qrels define them
   * @param trainedSplit the split it trained on
   */
  public record UnseenQueries(Set<String> queryIds, String version, String trainedSplit) {
    public UnseenQueries {
      queryIds = Collections.unmodifiableSet(new LinkedHashSet<>(queryIds)); // keeps the order, unlike Set.copyOf
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(trainedSplit, "trainedSplit");
    }

    /** E.g. {@code v12's training qrels (train)}. */
    public String source() {
      return "v" + version + "'s training qrels (" + trainedSplit + ")";
    }
  }

  /** One symmetric-task row. @throws IllegalArgumentException if the row is not labelled as the system */
  public record SymmetricResult(SymmetricSystem system, SymmetricRow row) {
    public SymmetricResult {
      Objects.requireNonNull(system, "system");
      Objects.requireNonNull(row, "row");
      if (!system.label().equals(row.system())) {
        throw new IllegalArgumentException("row '" + row.system() + "' is not labelled as " + system.label());
      }
    }
  }

  /**
   * The symmetric tasks' rows and the sizes of their data.
   *
   * @param rows in table order
   * @param stsTestPairs STS-B test pairs
   * @param snliTestPairs SNLI test pairs
   * @param snliDevPairs SNLI dev pairs (where each threshold was fitted)
   */
  public record SymmetricTasks(List<SymmetricResult> rows, int stsTestPairs, int snliTestPairs, int snliDevPairs) {
    public SymmetricTasks {
      rows = List.copyOf(rows);
    }
  }

  /**
   * The teacher re-ranking with nothing precomputed, as a cross-encoder teacher must.
   *
   * @param msPerQuery mean time to score one query's candidates
   * @param queries queries asked for the timing
   * @param candidates candidates per query
   */
  public record ColdTeacher(double msPerQuery, int queries, int candidates) {}

  /** @throws IllegalArgumentException if the baseline is not one of the rows */
  public EvalReport {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(queries, "queries");
    rows = List.copyOf(rows);
    Objects.requireNonNull(baseline, "baseline");
    Objects.requireNonNull(unseen, "unseen");
    Objects.requireNonNull(symmetric, "symmetric");
    Objects.requireNonNull(coldTeacher, "coldTeacher");
    if (rows.stream().noneMatch(r -> r.system().equals(baseline))) {
      throw new IllegalArgumentException("baseline " + baseline.label() + " is not a row");
    }
  }

  /** The teacher's row, if the teacher was evaluated. */
  public Optional<RetrievalRow> teacher() {
    return rows.stream().filter(r -> r.system() instanceof EvalSystem.TeacherRerank).findFirst();
  }

  /** The baseline's row. */
  public RetrievalRow baselineRow() {
    return rows.stream().filter(r -> r.system().equals(baseline)).findFirst().orElseThrow();
  }

  /**
   * Each student row's share of the teacher's nDCG@10 advantage over the baseline ({@link Evaluation#gapClosed}),
   * over the queries in {@code subset} (null: all); empty without a teacher row.
   */
  public Map<EvalSystem, Double> gapClosed(Set<String> subset) {
    Map<EvalSystem, Double> gap = new LinkedHashMap<>();
    teacher().ifPresent(teacher -> {
      double base = row(baselineRow(), subset).ndcg10();
      double top = row(teacher, subset).ndcg10();
      rows.stream().filter(r -> r.system().isStudent())
          .forEach(r -> gap.put(r.system(), Evaluation.gapClosed(row(r, subset).ndcg10(), base, top)));
    });
    return gap;
  }

  /**
   * Every other row's nDCG@10 minus the baseline's, query by query over {@code subset} (null: all), with its paired
   * bootstrap interval ({@link Evaluation#ndcgDifference}): is the difference more than noise?
   */
  public Map<EvalSystem, PairedBootstrap.Interval> versusBaseline(Set<String> subset) {
    RetrievalRow base = baselineRow();
    Map<EvalSystem, PairedBootstrap.Interval> versus = new LinkedHashMap<>();
    rows.stream().filter(r -> r != base)
        .forEach(r -> versus.put(r.system(), Evaluation.ndcgDifference(r.run(), base.run(), subset)));
    return versus;
  }

  private static EvalRow row(RetrievalRow r, Set<String> subset) {
    return subset == null ? r.run().row() : r.run().row(subset);
  }

  /** The report as {@code eval} prints it after its progress lines: the tables and their notes. */
  public String text() {
    StringBuilder out = new StringBuilder(System.lineSeparator());
    out.append(String.format("%s, %s, all %d queries, %s%n", corpus.dataset(), queries.description(), queries.count(),
        corpus.unitDescription()));
    out.append(table(null));
    unseen.ifPresent(u -> {
      if (u.queryIds().isEmpty()) {
        out.append(String.format("%nno %s query is unseen by %s (evaluating the training split itself?)%n",
            queries.split(), u.source()));
      } else {
        out.append(String.format("%n%s, %s split, the %d queries unseen by %s: none of their relevant documents is a "
            + "training positive%n", corpus.dataset(), queries.split(), u.queryIds().size(), u.source()));
        out.append(table(u.queryIds()));
      }
    });
    symmetric.filter(s -> !s.rows().isEmpty()).ifPresent(s -> {
      out.append(String.format("%nsymmetric tasks: STS-B test (%d pairs, Spearman), SNLI test (%d pairs, entailment vs "
          + "not, threshold fitted on %d dev pairs)%n", s.stsTestPairs(), s.snliTestPairs(), s.snliDevPairs()));
      out.append(SymmetricEvaluation.table(s.rows().stream().map(SymmetricResult::row).toList()));
    });
    coldTeacher.ifPresent(cold -> {
      out.append(String.format(Locale.ROOT, "%nteacher re-ranking %d candidates with nothing precomputed (each query "
          + "encodes its candidates with both encoders, as a cross-encoder teacher must): %.0f ms/query over %d "
          + "queries%n", cold.candidates(), cold.msPerQuery(), cold.queries()));
      for (RetrievalRow r : rows) {
        if (r.system() instanceof EvalSystem.IemRerank) {
          out.append(String.format(Locale.ROOT, "  %s: %.2f%% of it%n", r.run().system(),
              100 * r.row().msPerQuery() / cold.msPerQuery()));
        }
      }
    });
    out.append(String.format("%nbaseline = %s. Δ nDCG@10 vs baseline: row − baseline over the same queries, with its "
        + "95%% paired bootstrap interval (%,d resamples of the queries); * where the interval excludes 0.%n",
        baseline.label(), PairedBootstrap.RESAMPLES));
    if (teacher().isPresent()) {
      out.append("gap closed = (row − baseline) / (teacher − baseline) in nDCG@10; teacher ms/query with its passage "
          + "vectors precomputed (its queries embedded by two 12-layer encoders at query time).")
          .append(System.lineSeparator());
    }
    return out.toString();
  }

  /** One table over {@code subset} (null: all queries), with the gap-closed and versus-baseline columns. */
  private String table(Set<String> subset) {
    List<EvalRow> table = rows.stream().map(r -> row(r, subset)).toList();
    return Evaluation.table(table, byLabel(gapClosed(subset)), byLabel(versusBaseline(subset)));
  }

  /** Evaluation.table looks its columns up by row label. */
  private static <V> Map<String, V> byLabel(Map<EvalSystem, V> bySystem) {
    Map<String, V> out = new LinkedHashMap<>();
    bySystem.forEach((system, v) -> out.put(system.label(), v));
    return out;
  }

  /** The rows' labels, in table order (for tests and logs). */
  public List<String> labels() {
    List<String> labels = new ArrayList<>(rows.size());
    rows.forEach(r -> labels.add(r.system().label()));
    return labels;
  }
}
