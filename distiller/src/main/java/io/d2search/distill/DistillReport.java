package io.d2search.distill;

import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.TrainingWindow;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What a {@link DistillRun} did: each step's outcome, in the order the run reached them (a {@link DistillRun.Listener}
 * got them then), the window recorded in the manifest, and the bundle written with its training report and
 * metrics. Immutable.
 *
 * @param data the data read
 * @param queries how the queries were split and which trained
 * @param rerank the held-out re-rank that compared epochs; null when the held-out loss did
 * @param symmetric the symmetric stage's lists; null without one
 * @param examples the training sets built
 * @param window the manifest's {@code training.data}
 * @param out the bundle's directory
 * @param result the bundle, its training report and its held-out metrics
 */
public record DistillReport(DataRead data, QueriesDrawn queries, RerankBaseline rerank, SymmetricLists symmetric,
    ExamplesBuilt examples, TrainingWindow window, Path out, Distillation.Result result) {

  public DistillReport {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(queries, "queries");
    Objects.requireNonNull(examples, "examples");
    Objects.requireNonNull(window, "window");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(result, "result");
  }

  /** A step's outcome. */
  public sealed interface Step permits DataRead, QueriesDrawn, RerankBaseline, SymmetricLists, ExamplesBuilt {
    /** The outcome as one line for people: what {@code distill} prints. */
    String describe();
  }

  /**
   * The data read.
   *
   * @param directory the dataset directory's name, as given
   * @param split the qrels split
   * @param documents corpus documents (whole, not chunked)
   * @param judgedQueries queries of the split with a relevant document
   * @param parent the parent bundle's version
   */
  public record DataRead(String directory, String split, int documents, int judgedQueries, String parent)
      implements Step {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "%s (%s split): %d documents, %d queries with a positive; parent bundle %s",
          directory, split, documents, judgedQueries, parent);
    }
  }

  /**
   * How the queries were split.
   *
   * @param judgedTrain judged queries not held out
   * @param judgedTraining whether they trained
   * @param heldOut judged queries held out
   * @param kind how those were drawn
   * @param pseudoQueries pseudo-queries drawn
   * @param teacherPositives whether the teacher picks their positives
   */
  public record QueriesDrawn(int judgedTrain, boolean judgedTraining, int heldOut, QuerySplit.Kind kind,
      int pseudoQueries, boolean teacherPositives) implements Step {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "%d training queries%s, %d held out (%s), %d pseudo-queries%s", judgedTrain,
          judgedTraining ? "" : " (not used: --no-judged-training)", heldOut, kind.name().toLowerCase(Locale.ROOT),
          pseudoQueries, teacherPositives ? " (positives picked by the teacher)" : "");
    }
  }

  /**
   * The held-out re-rank that compares epochs when the PMA stays the parent's.
   *
   * @param depth candidates re-ranked per query (the parent's top)
   * @param k the nDCG cut-off
   * @param hnswNdcg nDCG@k in the parent's HNSW order, before any re-rank
   */
  public record RerankBaseline(int depth, int k, double hnswNdcg) implements Step {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "epochs compared by the held-out re-rank of the parent's top %d (nDCG@%d in "
          + "HNSW order: %.4f)", depth, k, hnswNdcg);
    }
  }

  /**
   * The symmetric stage's sentence-pair lists.
   *
   * @param train training lists
   * @param heldOut held-out lists
   */
  public record SymmetricLists(int train, int heldOut) implements Step {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "symmetric stage: %d STS-B train lists, %d held out", train, heldOut);
    }
  }

  /**
   * The training sets.
   *
   * @param train training examples (judged and pseudo-queries)
   * @param heldOut held-out examples
   * @param meanPositive mean teacher score of the positives
   * @param meanNegative mean teacher score of the hard negatives
   */
  public record ExamplesBuilt(int train, int heldOut, double meanPositive, double meanNegative) implements Step {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "%d training examples, %d held out; mean teacher score: positives %.3f, hard "
          + "negatives %.3f", train, heldOut, meanPositive, meanNegative);
    }
  }

  /** The steps in the order the run reached them; the optional ones only when they happened. */
  public List<Step> steps() {
    List<Step> steps = new ArrayList<>(List.of(data, queries));
    if (rerank != null) {
      steps.add(rerank);
    }
    if (symmetric != null) {
      steps.add(symmetric);
    }
    steps.add(examples);
    return List.copyOf(steps);
  }

  /** The bundle written. */
  public ModelBundle bundle() {
    return result.bundle();
  }

  /**
   * The outcome as lines for people, what {@code distill} prints last: where the bundle went and its best epoch,
   * then one line per metric.
   */
  public List<String> summary() {
    List<String> lines = new ArrayList<>();
    lines.add(String.format(Locale.ROOT, "bundle %s written to %s (best epoch %d of %d)", result.bundle().version(),
        out.toAbsolutePath(), result.report().bestEpoch(), result.report().epochs().size()));
    result.metrics().forEach((k, v) -> lines.add(String.format(Locale.ROOT, "  %-28s %s", k, v)));
    return List.copyOf(lines);
  }
}
