package io.d2search.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Scores documents as the best score of any of their passages, and keeps the top k. Documents with equal best
 * scores keep the order in which those scores were offered (the first offer that reached it wins), which is the
 * first stage's order when passages are offered in it: the tie rule of {@link io.d2search.rank.Reranker}, so the
 * query service and every eval row break ties alike.
 */
final class TopDocs {
  /** A document's best score, and the offer (by arrival) that first reached it. */
  private record Best(String docId, double score, long offer) {}

  /** Higher score first (as {@link Double#compare} orders), then the earlier offer. */
  private static final Comparator<Best> BEST_FIRST =
      Comparator.comparing(Best::score, (a, b) -> Double.compare(b, a)).thenComparingLong(Best::offer);

  private final Map<String, Best> best = new HashMap<>();
  private long offers;

  void offer(String docId, double score) {
    Best offered = new Best(docId, score, offers++);
    best.merge(docId, offered, (old, now) -> Double.compare(now.score(), old.score()) > 0 ? now : old);
  }

  List<ScoredDoc> top(int k) {
    PriorityQueue<Best> heap = new PriorityQueue<>(BEST_FIRST.reversed()); // worst on top, to drop
    for (Best b : best.values()) {
      heap.offer(b);
      if (heap.size() > k) {
        heap.poll();
      }
    }
    List<Best> kept = new ArrayList<>(heap);
    kept.sort(BEST_FIRST);
    return kept.stream().map(b -> new ScoredDoc(b.docId(), b.score())).toList();
  }
}
