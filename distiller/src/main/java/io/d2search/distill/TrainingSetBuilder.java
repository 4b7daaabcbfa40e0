package io.d2search.distill;

import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.util.ArrayList;
import java.util.HashSet;
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
 * Turns judged queries (and unjudged ones, whose positive the teacher picks) into {@link TrainingExample}s: mines K
 * hard negatives per query, asks the teacher for every (query, candidate) pair, and attaches the backbone token
 * states of every text (from the {@link TokenStateCache}, computing what it lacks). The slow parts (teacher and
 * backbone) are cached on disk by their owners, so a second build over the same data only reads.
 *
 * <p>Token states of a text are loaded once and shared by every example that uses it.
 */
public final class TrainingSetBuilder {
  private static final Logger log = LoggerFactory.getLogger(TrainingSetBuilder.class);
  private final NegativeMiner miner;
  private final NegativeMiner unjudgedMiner;
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
    this.unjudgedMiner = miner.widened(1);
    this.teacher = Objects.requireNonNull(teacher, "teacher");
    this.features = features;
    this.tokenStates = Objects.requireNonNull(tokenStates, "tokenStates");
    this.backbone = Objects.requireNonNull(backbone, "backbone");
    this.documentText = Map.copyOf(documentText);
  }

  /** A query's labelled list as one example: its positive, K negatives and the teacher's scores of the 1 + K. */
  private record Labelled(String queryId, String query, String positive, List<String> negatives, float[] scores,
      float[][] features) {}

  /** One example per (query, positive); queries whose positives are not in the corpus are skipped. */
  public TrainingSet build(List<JudgedQuery> queries, String label) {
    return build(queries, Map.of(), label);
  }

  /**
   * As {@link #build(List, String)}, with negatives users showed they did not want: a query's {@code skipped}
   * documents (shown above a click and passed over) come first among its K negatives, mined ones fill the rest.
   * Lists with skipped documents bypass the label store: the same text and positives may come with other skipped
   * documents another time.
   *
   * @param skipped query id → documents skipped for it, best-ranked first; documents not in the corpus, positives
   *     and those beyond K are dropped
   */
  public TrainingSet build(List<JudgedQuery> queries, Map<String, List<String>> skipped, String label) {
    List<Labelled> labelled = new ArrayList<>();
    int reused = 0;
    try (ProgressBar bar = bar(label + ": negatives + teacher", queries.size())) {
      for (JudgedQuery q : queries) {
        List<String> positives = q.positives().stream().filter(documentText::containsKey).toList();
        bar.step();
        if (positives.isEmpty()) {
          continue;
        }
        List<String> passedOver = skipped.getOrDefault(q.id(), List.of()).stream()
            .filter(d -> documentText.containsKey(d) && !q.positives().contains(d)).distinct().toList();
        LabelStore.Entry entry = labels == null || !passedOver.isEmpty() ? null : labels.get(q.text(), positives);
        if (entry == null) {
          entry = label(q.text(), positives, negatives(q, passedOver));
          if (labels != null && passedOver.isEmpty()) {
            labels.put(entry);
          }
        } else {
          reused++;
        }
        for (int i = 0; i < positives.size(); i++) {
          labelled.add(labelled(q.id(), entry, i));
        }
      }
    }
    logReuse(label, reused, queries.size());
    return assemble(labelled, label);
  }

  /**
   * One example per query that has no judged answer: K + 1 candidates mined as for a judged query (never one of
   * {@code excluded}) and scored by the teacher; the candidate the teacher scores highest is the positive, the other
   * K, in mined order, the negatives. What such an example teaches is the teacher's order of what the index and BM25
   * return for the query, which is all a re-ranker sees at serving time; no document is an answer because it was
   * the query's source.
   */
  public TrainingSet buildUnjudged(List<UnjudgedQuery> queries, String label) {
    List<Labelled> labelled = new ArrayList<>();
    int reused = 0;
    try (ProgressBar bar = bar(label + ": candidates + teacher", queries.size())) {
      for (UnjudgedQuery q : queries) {
        bar.step();
        // An unjudged list is stored with no positives: the key cannot collide with a judged list of the same text.
        LabelStore.Entry entry = labels == null ? null : labels.get(q.text(), List.of());
        if (entry != null && entry.negatives().stream().noneMatch(q.excluded()::contains)) {
          reused++;
        } else {
          entry = label(q.text(), List.of(), unjudgedMiner.mine(q.text(), q.excluded()));
          if (labels != null) {
            labels.put(entry);
          }
        }
        labelled.add(labelled(q.id(), teacherBest(entry), 0));
      }
    }
    logReuse(label, reused, queries.size());
    return assemble(labelled, label);
  }

  /**
   * An unjudged list (no positives) as a judged one: the candidate with the highest teacher score (the first of
   * equals) moved to the front as the positive, the rest in their order as the negatives.
   */
  static LabelStore.Entry teacherBest(LabelStore.Entry unjudged) {
    if (!unjudged.positives().isEmpty() || unjudged.negatives().size() < 2) {
      throw new IllegalArgumentException("an unjudged list has no positives and at least two candidates");
    }
    double[] scores = unjudged.scores();
    int best = 0;
    for (int i = 1; i < scores.length; i++) {
      if (scores[i] > scores[best]) {
        best = i;
      }
    }
    List<String> negatives = new ArrayList<>(unjudged.negatives());
    String positive = negatives.remove(best);
    double[] reordered = new double[scores.length];
    double[][] features = unjudged.features() == null ? null : new double[scores.length][];
    for (int from = 0, to = 1; from < scores.length; from++) {
      int at = from == best ? 0 : to++;
      reordered[at] = scores[from];
      if (features != null) {
        features[at] = unjudged.features()[from];
      }
    }
    return new LabelStore.Entry(unjudged.text(), List.of(positive), negatives, reordered, features);
  }

  /** The example of the entry's {@code i}-th positive: its score then the negatives'. */
  private static Labelled labelled(String queryId, LabelStore.Entry entry, int i) {
    int p = entry.positives().size();
    List<String> negatives = entry.negatives();
    double[] scores = entry.scores();
    double[][] feats = entry.features();
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
    return new Labelled(queryId, entry.text(), entry.positives().get(i), negatives, s, f);
  }

  private void logReuse(String label, int reused, int queries) {
    if (labels != null) {
      log.info("{}: {} of {} queries' labelled lists reused from the label store", label, reused, queries);
    }
  }

  /** Attaches the token states of every text (computing those the cache lacks) to the labelled lists. */
  private TrainingSet assemble(List<Labelled> labelled, String label) {
    LinkedHashSet<String> texts = new LinkedHashSet<>();
    for (Labelled l : labelled) {
      texts.add(l.query());
      texts.add(documentText.get(l.positive()));
      l.negatives().forEach(n -> texts.add(documentText.get(n)));
    }
    Map<String, TokenSequence> states = tokenStates.getAll(List.copyOf(texts), backbone, label + ": token states");

    List<TrainingExample> examples = new ArrayList<>(labelled.size());
    List<String> queryIds = new ArrayList<>(labelled.size());
    for (Labelled l : labelled) {
      examples.add(new TrainingExample(states.get(l.query()), states.get(documentText.get(l.positive())),
          l.negatives().stream().map(n -> states.get(documentText.get(n))).toList(), l.scores(), l.features()));
      queryIds.add(l.queryId());
    }
    return new TrainingSet(examples, queryIds);
  }

  /** K negatives: the skipped ones first (at most K), then mined ones that are neither positives nor skipped. */
  private List<String> negatives(JudgedQuery q, List<String> skipped) {
    if (skipped.isEmpty()) {
      return miner.mine(q.text(), Set.copyOf(q.positives()));
    }
    LinkedHashSet<String> out = new LinkedHashSet<>(skipped.subList(0, Math.min(skipped.size(), miner.k())));
    Set<String> exclude = new HashSet<>(q.positives());
    exclude.addAll(out);
    for (String mined : miner.mine(q.text(), exclude)) {
      if (out.size() == miner.k()) {
        break;
      }
      out.add(mined);
    }
    return List.copyOf(out);
  }

  /** Asks the teacher about the positives then the candidates, in one call. */
  private LabelStore.Entry label(String query, List<String> positives, List<String> candidates) {
    List<String> all = new ArrayList<>(positives);
    all.addAll(candidates);
    List<String> texts = all.stream().map(documentText::get).toList();
    if (features == null) {
      return new LabelStore.Entry(query, positives, candidates, teacher.score(query, texts), null);
    }
    FeatureTeacher.Labels l = features.label(query, texts);
    return new LabelStore.Entry(query, positives, candidates, l.scores(), l.features());
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
