package io.d2search.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Which passages (by position in the evaluation's passage list) belong to each document. */
final class PassagesByDoc {
  private final Map<String, List<Integer>> byDoc = new HashMap<>();

  PassagesByDoc(List<EvalPassage> passages) {
    for (int i = 0; i < passages.size(); i++) {
      byDoc.computeIfAbsent(passages.get(i).docId(), d -> new ArrayList<>()).add(i);
    }
  }

  /** Passage positions of the documents, document by document. */
  List<Integer> of(List<ScoredDoc> docs) {
    List<Integer> out = new ArrayList<>();
    for (ScoredDoc d : docs) {
      out.addAll(byDoc.getOrDefault(d.docId(), List.of()));
    }
    return out;
  }
}
