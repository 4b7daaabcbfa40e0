package io.d2search.distill;

import io.d2search.data.BeirDataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A training query and the documents judged (or clicked) relevant to it.
 *
 * @param id stable query id (held-out slices are drawn by it)
 * @param text the query text
 * @param positives ids of relevant documents, at least one, distinct
 */
public record JudgedQuery(String id, String text, List<String> positives) {
  public JudgedQuery {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(text, "text");
    positives = List.copyOf(positives);
    if (positives.isEmpty()) {
      throw new IllegalArgumentException("query " + id + " has no positive");
    }
    if (positives.stream().distinct().count() != positives.size()) {
      throw new IllegalArgumentException("query " + id + " lists a positive twice");
    }
  }

  /**
   * The queries of a dataset's split with at least one relevant (relevance &gt; 0) document, in the qrels file's
   * order: what {@code distill} trains on and holds out of, and what a manifest's {@code training.data.queries}
   * counts.
   */
  public static List<JudgedQuery> fromQrels(BeirDataset data) {
    List<JudgedQuery> out = new ArrayList<>();
    data.qrels().forEach((qid, judgements) -> {
      List<String> positives = judgements.entrySet().stream().filter(e -> e.getValue() > 0).map(Map.Entry::getKey)
          .toList();
      String text = data.queries().get(qid);
      if (text != null && !positives.isEmpty()) {
        out.add(new JudgedQuery(qid, text, positives));
      }
    });
    return out;
  }
}
