package io.d2search.loop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The feedback read so far, one list per query id (a later example for the same query id replaces the earlier one,
 * as the compacted view of {@code training-pairs} would). Thread-safe: the reader adds while a refresh takes
 * snapshots.
 */
final class FeedbackStore {
  private final Map<String, FeedbackList> lists = new LinkedHashMap<>();
  private long received;

  synchronized void add(FeedbackList list) {
    lists.remove(list.queryId()); // re-insert: the order is the order of the latest arrival
    lists.put(list.queryId(), list);
    received++;
  }

  /** The lists, oldest first. */
  synchronized List<FeedbackList> snapshot() {
    return new ArrayList<>(lists.values());
  }

  /** Distinct query ids held. */
  synchronized int size() {
    return lists.size();
  }

  /** Examples received, replacements included: what "new examples since the last refresh" counts. */
  synchronized long received() {
    return received;
  }
}
