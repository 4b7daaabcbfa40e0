package io.d2search.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.events.DocumentOp;
import io.d2search.ingest.CorpusDocument;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class ChangeLogTest {
  private static List<CorpusDocument> corpus(int n) {
    List<CorpusDocument> docs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      docs.add(new CorpusDocument("d" + i, "title " + i, "text of document " + i, null, Map.of("lang", "en")));
    }
    return docs;
  }

  @RepeatedTest(20)
  void everyDocumentIsCreatedFirstVersionsRiseAndADeletedOneStaysDeleted() {
    long seed = new Random().nextLong();
    Random random = new Random(seed);
    int n = 4 + random.nextInt(60);
    double updates = random.nextDouble() * 0.5;
    double deletes = random.nextDouble() * 0.5;
    ChangeLog log = ChangeLog.plan(corpus(n), updates, deletes, seed);
    assertThat(ChangeLog.plan(corpus(n), updates, deletes, seed)).as("seeded").isEqualTo(log);
    Map<String, Long> version = new HashMap<>();
    Set<String> deleted = new HashSet<>();
    int created = 0;
    for (ChangeLog.Change c : log.changes()) {
      assertThat(deleted).as("seed %d: %s changed after its delete", seed, c.id()).doesNotContain(c.id());
      Long before = version.put(c.id(), c.version());
      if (before == null) {
        assertThat(c.op()).isEqualTo(DocumentOp.UPSERT);
        assertThat(c.version()).isEqualTo(1);
        assertThat(c.id()).isEqualTo("d" + created++);
      } else {
        assertThat(c.version()).as("seed %d", seed).isGreaterThan(before);
      }
      if (c.op() == DocumentOp.DELETE) {
        deleted.add(c.id());
      } else {
        assertThat(c.attributes()).containsEntry(ChangeLog.KEY, c.id()).containsEntry("lang", "en");
        assertThat(c.event().getBody()).isEqualTo(c.body());
      }
    }
    assertThat(created).isEqualTo(n);
    assertThat(log.documents()).isEqualTo(n);
    Set<String> kept = new HashSet<>(version.keySet());
    kept.removeAll(deleted);
    assertThat(log.neverDeleted()).isEqualTo(kept);
  }

  @Test
  void sharesMustLeaveRoomForCreations() {
    assertThatThrownBy(() -> ChangeLog.plan(corpus(5), 0.7, 0.4, 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
