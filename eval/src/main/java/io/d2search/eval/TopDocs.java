package io.d2search.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/** Scores documents as the best score of any of their passages, and keeps the top k. */
final class TopDocs {
  private final Map<String, Double> best = new HashMap<>();

  void offer(String docId, double score) {
    best.merge(docId, score, Math::max);
  }

  List<ScoredDoc> top(int k) {
    PriorityQueue<ScoredDoc> heap = new PriorityQueue<>(
        (a, b) -> a.score() != b.score() ? Double.compare(a.score(), b.score()) : b.docId().compareTo(a.docId()));
    for (Map.Entry<String, Double> e : best.entrySet()) {
      heap.offer(new ScoredDoc(e.getKey(), e.getValue()));
      if (heap.size() > k) {
        heap.poll();
      }
    }
    List<ScoredDoc> out = new ArrayList<>(heap);
    out.sort((a, b) -> a.score() != b.score() ? Double.compare(b.score(), a.score()) : a.docId().compareTo(b.docId()));
    return out;
  }
}
