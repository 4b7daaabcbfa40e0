package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.eval.EvalReport.RetrievalRow;
import io.d2search.eval.EvalSystem.BiEncoder;
import io.d2search.eval.EvalSystem.Dense;
import io.d2search.eval.EvalSystem.IemRerank;
import io.d2search.eval.EvalSystem.Search;
import io.d2search.eval.EvalSystem.Student;
import io.d2search.eval.EvalSystem.TeacherRerank;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The report's decisions (baseline, gap closed, differences, notes) are made on typed rows; labels are only text. */
class EvalReportTest {
  private static final BiEncoder BI = new BiEncoder("minilm");
  private static final Student V0 = new Student("0", "pma");
  private static final Student V7 = new Student("7", "pma");
  private static final Dense BASELINE = new Dense(V0, Search.HNSW);

  /** A run whose nDCG@10 is {@code ndcg} on every query but q3, where it is {@code ndcgQ3}. */
  private static RetrievalRow row(EvalSystem system, double ndcg, double ndcgQ3, double ms) {
    Map<String, Evaluation.QueryMetrics> perQuery = new LinkedHashMap<>();
    for (int q = 0; q < 6; q++) {
      double n = q == 3 ? ndcgQ3 : ndcg;
      perQuery.put("q" + q, new Evaluation.QueryMetrics(n, 0.5, n, ms));
    }
    return new RetrievalRow(system, new Evaluation.Run(system.label(), perQuery));
  }

  private static EvalReport report(List<RetrievalRow> rows, Optional<EvalReport.UnseenQueries> unseen,
      Optional<EvalReport.ColdTeacher> cold) {
    return new EvalReport(new EvalReport.Corpus("scifact", 5183, 5300, EvalPlan.Unit.CHUNKED_PASSAGES, 160),
        new EvalReport.QuerySet("test", Optional.empty(), 6), rows, BASELINE, unseen, Optional.empty(), cold);
  }

  private static List<RetrievalRow> rows() {
    return List.of(row(new EvalSystem.Keyword(), 0.60, 0.60, 1), row(new Dense(BI, Search.HNSW), 0.55, 0.55, 2),
        row(new Dense(BI, Search.EXACT), 0.56, 0.56, 3), row(BASELINE, 0.50, 0.50, 2),
        row(new Dense(V0, Search.EXACT), 0.51, 0.51, 3), row(new Dense(V7, Search.HNSW), 0.60, 0.30, 2),
        row(new IemRerank("7", 100, false), 0.70, 0.40, 4), row(new TeacherRerank(100, BASELINE), 0.90, 0.90, 40));
  }

  @Test
  void labelsAreTheTextTheTableHasAlwaysPrinted() {
    assertThat(new Dense(BI, Search.HNSW).label()).isEqualTo("bi-encoder (minilm, mean) HNSW");
    assertThat(new Dense(V7, Search.EXACT).label()).isEqualTo("student v7 (pma) exact");
    assertThat(new IemRerank("7", 20, false).label()).isEqualTo("student v7 + IEM re-rank top-20");
    assertThat(new IemRerank("7", 20, true).label()).isEqualTo("student v7 hybrid + IEM re-rank top-20");
    assertThat(new EvalSystem.Hybrid(new EvalSystem.Student("7", "pma"), "RRF k=60").label())
        .isEqualTo("student v7 hybrid (RRF k=60)");
    assertThat(new EvalSystem.Hybrid(new EvalSystem.Student("7", "pma"), "RRF k=60").isStudent()).isTrue();
    assertThat(new TeacherRerank(100, BASELINE).label()).isEqualTo("teacher re-rank top-100 of student v0 (pma) HNSW");
    assertThat(new EvalSystem.Keyword().label()).isEqualTo("keyword: BM25 (Lucene, English analyzer)");
    assertThat(new SymmetricSystem.Cosine(BI).label()).isEqualTo("bi-encoder (minilm, mean) cosine");
    assertThat(new SymmetricSystem.Cosine(V7).label()).isEqualTo("student v7 cosine");
    assertThat(new SymmetricSystem.IemSymmetric("7").label()).isEqualTo("student v7 IEM (symmetric branch)");
    assertThat(new EvalReport.QuerySet("train", Optional.of(new EvalReport.HeldOut("12", "unseen", List.of("q1"))), 1)
        .description()).isEqualTo("train split, held out by v12 (unseen)");
  }

  @Test
  void gapClosedIsForStudentRowsAndDifferencesForEveryRowButTheBaseline() {
    EvalReport report = report(rows(), Optional.empty(), Optional.empty());
    Map<EvalSystem, Double> gap = report.gapClosed(null);
    assertThat(gap.keySet()).containsExactly(BASELINE, new Dense(V0, Search.EXACT), new Dense(V7, Search.HNSW),
        new IemRerank("7", 100, false));
    double v7 = (0.60 * 5 + 0.30) / 6;
    assertThat(gap.get(new Dense(V7, Search.HNSW))).isCloseTo((v7 - 0.50) / (0.90 - 0.50), within(1e-12));
    assertThat(gap.get(BASELINE)).isZero();
    // Over a subset, every figure is over those queries only.
    assertThat(report.gapClosed(Set.of("q3")).get(new Dense(V7, Search.HNSW)))
        .isCloseTo((0.30 - 0.50) / (0.90 - 0.50), within(1e-12));

    Map<EvalSystem, PairedBootstrap.Interval> versus = report.versusBaseline(null);
    assertThat(versus).hasSize(rows().size() - 1).doesNotContainKey(BASELINE);
    assertThat(versus.get(new IemRerank("7", 100, false)).mean()).isCloseTo((0.70 * 5 + 0.40) / 6 - 0.50, within(1e-12));

    List<RetrievalRow> noTeacher = rows().subList(0, rows().size() - 1);
    assertThat(report(noTeacher, Optional.empty(), Optional.empty()).gapClosed(null)).isEmpty();
  }

  @Test
  void theTextHasTheTablesAndTheirNotes() {
    Set<String> unseenIds = new LinkedHashSet<>(List.of("q3", "q4"));
    EvalReport report = report(rows(), Optional.of(new EvalReport.UnseenQueries(unseenIds, "7", "train")),
        Optional.of(new EvalReport.ColdTeacher(400, 3, 100)));
    String text = report.text();
    String nl = System.lineSeparator();
    assertThat(text).startsWith(nl + "scifact, test split, all 6 queries, passages of 160 tokens, documents scored by "
        + "their best passage" + nl + "| system ");
    assertThat(text).contains(Evaluation.table(rows().stream().map(RetrievalRow::row).toList(),
        Map.of("student v7 (pma) HNSW", report.gapClosed(null).get(new Dense(V7, Search.HNSW)),
            "student v0 (pma) HNSW", 0.0, "student v0 (pma) exact", report.gapClosed(null).get(new Dense(V0,
                Search.EXACT)), "student v7 + IEM re-rank top-100", report.gapClosed(null).get(new IemRerank("7", 100, false))),
        byLabel(report.versusBaseline(null))));
    assertThat(text).contains(nl + "scifact, test split, the 2 queries unseen by v7's training qrels (train): none of "
        + "their relevant documents is a training positive" + nl);
    assertThat(text).contains(nl + "teacher re-ranking 100 candidates with nothing precomputed (each query encodes "
        + "its candidates with both encoders, as a cross-encoder teacher must): 400 ms/query over 3 queries" + nl
        + "  student v7 + IEM re-rank top-100: 1.00% of it" + nl + nl + "baseline = student v0 (pma) HNSW.");
    assertThat(text).endsWith("gap closed = (row − baseline) / (teacher − baseline) in nDCG@10; teacher ms/query with "
        + "its passage vectors precomputed (its queries embedded by two 12-layer encoders at query time)." + nl);

    EvalReport none = report(rows(), Optional.of(new EvalReport.UnseenQueries(Set.of(), "7", "test")), Optional.empty());
    assertThat(none.text()).contains(nl + "no test query is unseen by v7's training qrels (test) (evaluating the "
        + "training split itself?)" + nl).doesNotContain("queries unseen by", "nothing precomputed");
  }

  @Test
  void refusesABaselineOutsideTheRowsAndARunLabelledAsAnotherSystem() {
    List<RetrievalRow> withoutBaseline = rows().stream().filter(r -> !r.system().equals(BASELINE)).toList();
    assertThatThrownBy(() -> report(withoutBaseline, Optional.empty(), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("baseline");
    assertThatThrownBy(() -> new RetrievalRow(BASELINE, new Evaluation.Run("student v0 (pma) exact", Map.of())))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static <V> Map<String, V> byLabel(Map<EvalSystem, V> bySystem) {
    Map<String, V> out = new LinkedHashMap<>();
    bySystem.forEach((s, v) -> out.put(s.label(), v));
    return out;
  }
}
