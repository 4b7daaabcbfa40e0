package io.d2search.distill;

import io.d2search.embed.Embedder;
import io.d2search.data.StsBenchmark;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;

/**
 * Training lists for the IEM's symmetric branch from graded sentence pairs (STS-B train): each pair scored at least
 * {@link #MIN_SCORE} of 5 gives a list in both directions, the other sentence as the positive with teacher
 * probability {@code score / 5}, and K sentences of other, randomly drawn pairs as negatives with probability 0.
 * The human similarity grades are the teacher here: no generative teacher judges sentence similarity better.
 */
public final class SimilarityExamples {
  /** Pairs graded below this are not positives (STS-B: 3 = "roughly equivalent, some details differ"). */
  public static final double MIN_SCORE = 3.0;

  private SimilarityExamples() {}

  /**
   * @param k negatives per list
   * @param seed draws the negatives
   */
  public static TrainingSet build(List<StsBenchmark.Pair> pairs, int k, long seed, TokenStateCache tokenStates,
      Embedder backbone) {
    Random random = new Random(seed);
    List<String> pool = new ArrayList<>();
    pairs.forEach(p -> {
      pool.add(p.sentence1());
      pool.add(p.sentence2());
    });
    record Item(String query, String positive, float score, List<String> negatives, String id) {}
    List<Item> items = new ArrayList<>();
    int n = 0;
    for (StsBenchmark.Pair p : pairs) {
      n++;
      if (p.score() < MIN_SCORE) {
        continue;
      }
      float t = (float) (p.score() / 5.0);
      items.add(new Item(p.sentence1(), p.sentence2(), t, draw(pool, k, random, p), "sts" + n + "a"));
      items.add(new Item(p.sentence2(), p.sentence1(), t, draw(pool, k, random, p), "sts" + n + "b"));
    }
    LinkedHashSet<String> texts = new LinkedHashSet<>();
    items.forEach(i -> {
      texts.add(i.query());
      texts.add(i.positive());
      texts.addAll(i.negatives());
    });
    // Shuffled, so that a pair's two directions rarely share a batch: there, each query would meet itself as
    // another list's positive among the in-batch negatives.
    java.util.Collections.shuffle(items, random);
    java.util.Map<String, TokenSequence> states = tokenStates.getAll(List.copyOf(texts), backbone,
        "similarity: token states");
    List<TrainingExample> examples = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    for (Item i : items) {
      float[] scores = new float[1 + k];
      scores[0] = i.score();
      examples.add(new TrainingExample(states.get(i.query()), states.get(i.positive()),
          i.negatives().stream().map(states::get).toList(), scores, null));
      ids.add(i.id());
    }
    return new TrainingSet(examples, ids);
  }

  private static List<String> draw(List<String> pool, int k, Random random, StsBenchmark.Pair exclude) {
    LinkedHashSet<String> out = new LinkedHashSet<>();
    while (out.size() < k) {
      String s = pool.get(random.nextInt(pool.size()));
      if (!s.equals(exclude.sentence1()) && !s.equals(exclude.sentence2())) {
        out.add(s);
      }
    }
    return List.copyOf(out);
  }
}
