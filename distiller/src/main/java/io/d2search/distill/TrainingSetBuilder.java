package io.d2search.distill;

import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns judged queries into {@link TrainingExample}s: mines K hard negatives per query, asks the teacher for every
 * (query, candidate) pair, and attaches the backbone token states of every text (from the {@link TokenStateCache},
 * computing what it lacks). The slow parts (teacher and backbone) are cached on disk by their owners, so a second
 * build over the same data only reads.
 *
 * <p>Token states of a text are loaded once and shared by every example that uses it.
 */
public final class TrainingSetBuilder {
  private static final Logger log = LoggerFactory.getLogger(TrainingSetBuilder.class);
  private final NegativeMiner miner;
  private final Teacher teacher;
  private final FeatureTeacher features;
  private final TokenStateCache tokenStates;
  private final TokenStateSource backbone;
  private final Map<String, String> documentText;
  private final LabelStore labels;

  /**
   * @param miner where the hard negatives come from
   * @param teacher labels every pair (usually a {@code CachedTeacher}) when {@code features} is null
   * @param features the same teacher with per-pair features for feature imitation, asked for scores and features
   *     in one call (its query encoders run once; the score cache is not consulted); null for none
   * @param tokenStates backbone token states on disk
   * @param backbone computes missing token states (the student's backbone, or its frozen layers, and token limit)
   * @param documentText document id → the text the student embeds for it (title and text, as indexed)
   */
  public TrainingSetBuilder(NegativeMiner miner, Teacher teacher, FeatureTeacher features,
      TokenStateCache tokenStates, TokenStateSource backbone, Map<String, String> documentText) {
    this(miner, teacher, features, tokenStates, backbone, documentText, null);
  }

  /**
   * As the other constructor, with labelled lists read from and written to {@code labels} (null: none), which must
   * belong to this miner's index and this teacher (see {@link LabelStore}).
   */
  public TrainingSetBuilder(NegativeMiner miner, Teacher teacher, FeatureTeacher features,
      TokenStateCache tokenStates, TokenStateSource backbone, Map<String, String> documentText, LabelStore labels) {
    this.labels = labels;
    this.miner = Objects.requireNonNull(miner, "miner");
    this.teacher = Objects.requireNonNull(teacher, "teacher");
    this.features = features;
    this.tokenStates = Objects.requireNonNull(tokenStates, "tokenStates");
    this.backbone = Objects.requireNonNull(backbone, "backbone");
    this.documentText = Map.copyOf(documentText);
  }

  /** One example per (query, positive); queries whose positives are not in the corpus are skipped. */
  public TrainingSet build(List<JudgedQuery> queries, String label) {
    record Labelled(JudgedQuery query, String positive, List<String> negatives, float[] scores, float[][] feats) {}
    List<Labelled> labelled = new ArrayList<>();
    int reused = 0;
    try (ProgressBar bar = bar(label + ": negatives + teacher", queries.size())) {
      for (JudgedQuery q : queries) {
        List<String> positives = q.positives().stream().filter(documentText::containsKey).toList();
        bar.step();
        if (positives.isEmpty()) {
          continue;
        }
        LabelStore.Entry entry = labels == null ? null : labels.get(q.text(), positives);
        if (entry == null) {
          entry = label(q, positives);
          if (labels != null) {
            labels.put(entry);
          }
        } else {
          reused++;
        }
        List<String> negatives = entry.negatives();
        double[] scores = entry.scores();
        double[][] feats = entry.features();
        int p = positives.size();
        for (int i = 0; i < p; i++) {
          float[] s = new float[1 + negatives.size()];
          float[][] f = feats == null ? null : new float[1 + negatives.size()][];
          s[0] = (float) scores[i];
          if (f != null) {
            f[0] = toFloat(feats[i]);
          }
          for (int n = 0; n < negatives.size(); n++) {
            s[1 + n] = (float) scores[p + n];
            if (f != null) {
              f[1 + n] = toFloat(feats[p + n]);
            }
          }
          labelled.add(new Labelled(q, positives.get(i), negatives, s, f));
        }
      }
    }
    if (labels != null) {
      log.info("{}: {} of {} queries' labelled lists reused from the label store", label, reused, queries.size());
    }

    LinkedHashSet<String> texts = new LinkedHashSet<>();
    for (Labelled l : labelled) {
      texts.add(l.query().text());
      texts.add(documentText.get(l.positive()));
      l.negatives().forEach(n -> texts.add(documentText.get(n)));
    }
    Map<String, TokenSequence> states = tokenStates.getAll(List.copyOf(texts), backbone, label + ": token states");

    List<TrainingExample> examples = new ArrayList<>(labelled.size());
    List<String> queryIds = new ArrayList<>(labelled.size());
    for (Labelled l : labelled) {
      examples.add(new TrainingExample(states.get(l.query().text()), states.get(documentText.get(l.positive())),
          l.negatives().stream().map(n -> states.get(documentText.get(n))).toList(), l.scores(), l.feats()));
      queryIds.add(l.query().id());
    }
    return new TrainingSet(examples, queryIds);
  }


  /** Mines the query's negatives and asks the teacher about its positives and negatives in one call. */
  private LabelStore.Entry label(JudgedQuery q, List<String> positives) {
    List<String> negatives = miner.mine(q.text(), Set.copyOf(q.positives()));
    List<String> candidates = new ArrayList<>(positives);
    candidates.addAll(negatives);
    List<String> texts = candidates.stream().map(documentText::get).toList();
    if (features == null) {
      return new LabelStore.Entry(q.text(), positives, negatives, teacher.score(q.text(), texts), null);
    }
    FeatureTeacher.Labels l = features.label(q.text(), texts);
    return new LabelStore.Entry(q.text(), positives, negatives, l.scores(), l.features());
  }

  private static float[] toFloat(double[] x) {
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = (float) x[i];
    }
    return out;
  }

  private static ProgressBar bar(String task, int max) {
    return new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(1000).showSpeed().build();
  }
}
