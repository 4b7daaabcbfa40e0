package io.d2search.bench.chaos;

import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.ingest.CorpusDocument;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;

/**
 * The document changes a fault-injection run sends, the same in every scenario so each index can be compared with
 * the clean run's: every document of the corpus slice is created once, in order; after each creation, with the given
 * shares, an earlier live document is updated (a new version with other text) or deleted (for good). Seeded.
 * Every document carries the attribute {@value #KEY} = its id, so a search can ask for it alone.
 *
 * @param changes in sending order
 */
record ChangeLog(List<Change> changes) {
  /** The attribute that names a document, for searches that check it is there. */
  static final String KEY = "chaos-id";

  /** One change to one document; {@code body} null for a delete. */
  record Change(String id, DocumentOp op, String title, String body, String url, long version,
      Map<String, String> attributes) {
    DocumentEvent event() {
      return DocumentEvent.newBuilder().setId(id).setOp(op).setTitle(title).setBody(body).setUrl(url)
          .setVersion(version).setTs(Instant.now()).setAttributes(attributes).build();
    }
  }

  ChangeLog {
    changes = List.copyOf(changes);
  }

  static ChangeLog plan(List<CorpusDocument> corpus, double updateShare, double deleteShare, long seed) {
    Objects.requireNonNull(corpus, "corpus");
    if (updateShare < 0 || deleteShare < 0 || updateShare + deleteShare > 1) {
      throw new IllegalArgumentException("update and delete shares must be >= 0 and sum to <= 1");
    }
    Random random = new Random(seed);
    List<Change> changes = new ArrayList<>();
    List<String> live = new ArrayList<>();
    Map<String, Long> versions = new HashMap<>();
    Map<String, CorpusDocument> byId = new HashMap<>();
    for (CorpusDocument d : corpus) {
      byId.put(d.id(), d);
      versions.put(d.id(), 1L);
      changes.add(upsert(d, 1, d.text()));
      live.add(d.id());
      double roll = random.nextDouble();
      if (live.size() > 1 && roll < updateShare) {
        String id = live.get(random.nextInt(live.size() - 1));
        long v = versions.merge(id, 1L, Long::sum);
        changes.add(upsert(byId.get(id), v, byId.get(id).text() + " Revision " + v + " of this abstract."));
      } else if (live.size() > 1 && roll < updateShare + deleteShare) {
        String id = live.remove(random.nextInt(live.size() - 1));
        long v = versions.merge(id, 1L, Long::sum);
        changes.add(new Change(id, DocumentOp.DELETE, null, null, null, v, Map.of()));
      }
    }
    return new ChangeLog(changes);
  }

  private static Change upsert(CorpusDocument d, long version, String body) {
    Map<String, String> attributes = new HashMap<>(d.attributes());
    attributes.put(KEY, d.id());
    return new Change(d.id(), DocumentOp.UPSERT, d.title().isEmpty() ? null : d.title(), body, d.url(), version,
        Map.copyOf(attributes));
  }

  /** Documents no later change deletes. */
  Set<String> neverDeleted() {
    Set<String> ids = new HashSet<>();
    for (Change c : changes) {
      if (c.op() == DocumentOp.DELETE) {
        ids.remove(c.id());
      } else {
        ids.add(c.id());
      }
    }
    return ids;
  }

  int documents() {
    return (int) changes.stream().map(Change::id).distinct().count();
  }
}
