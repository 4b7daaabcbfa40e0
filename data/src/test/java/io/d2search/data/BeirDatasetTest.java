package io.d2search.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BeirDatasetTest {
  @TempDir Path dir;

  @Test
  void readsCorpusQueriesAndQrelsOfASplit() throws IOException {
    Files.writeString(dir.resolve("corpus.jsonl"), """
        {"_id": "d1", "title": "T1", "text": "first"}
        {"_id": "d2", "title": "", "text": "second"}
        """);
    Files.writeString(dir.resolve("queries.jsonl"), """
        {"_id": "q1", "text": "query one"}
        {"_id": "q2", "text": "query two"}
        """);
    Files.createDirectories(dir.resolve("qrels"));
    Files.writeString(dir.resolve("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq2\td1\t1\nq2\td2\t2\n");
    BeirDataset data = BeirDataset.load(dir, "test");
    assertThat(data.corpus()).containsOnlyKeys("d1", "d2");
    assertThat(data.corpus().get("d1").title()).isEqualTo("T1");
    assertThat(data.queries()).containsOnlyKeys("q2");
    assertThat(data.qrels().get("q2")).containsEntry("d2", 2);
  }

  @Test
  void missingFilesAndBadJsonAreClearErrors() throws IOException {
    assertThatThrownBy(() -> BeirDataset.load(dir, "test")).hasMessageContaining("corpus.jsonl");
    Files.writeString(dir.resolve("c.jsonl"), "{\"_id\": \"d1\"\n");
    assertThatThrownBy(() -> BeirDataset.readCorpus(dir.resolve("c.jsonl"))).hasMessageContaining("c.jsonl:1");
  }

  @Test
  void scifactTestSplitHasItsPublishedShape() {
    Path scifact = Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    BeirDataset data = BeirDataset.load(scifact, "test");
    assertThat(data.corpus()).hasSize(5183);
    assertThat(data.queries()).hasSize(300);
    assertThat(data.qrels().values().stream().mapToInt(java.util.Map::size).sum()).isEqualTo(339);
    // Leakage-aware subset: test queries none of whose relevant documents is a training positive.
    BeirDataset unseen = data.unseenBy(BeirDataset.readQrels(scifact.resolve("qrels/train.tsv")));
    assertThat(unseen.queries()).hasSize(104);
    assertThat(unseen.corpus()).isSameAs(data.corpus());
  }

  @Test
  void unseenSubsetDropsQueriesWithATrainingPositive() {
    BeirDataset data = new BeirDataset(java.util.Map.of(), java.util.Map.of("q1", "a", "q2", "b", "q3", "c"),
        java.util.Map.of("q1", java.util.Map.of("d1", 1), "q2", java.util.Map.of("d2", 1, "d3", 0),
            "q3", java.util.Map.of("d4", 1, "d5", 1)));
    java.util.Map<String, java.util.Map<String, Integer>> train =
        java.util.Map.of("t1", java.util.Map.of("d1", 1, "d3", 1), "t2", java.util.Map.of("d5", 1, "d2", 0));
    assertThat(data.unseenBy(train).queries()).containsOnlyKeys("q2");
  }

  @Test
  void restrictedToKeepsTheNamedQueriesInFileOrderAndRefusesUnjudgedOnes() {
    java.util.Map<String, String> queries = new java.util.LinkedHashMap<>();
    java.util.Map<String, java.util.Map<String, Integer>> qrels = new java.util.LinkedHashMap<>();
    for (String q : java.util.List.of("q1", "q2", "q3", "q4")) {
      queries.put(q, "text of " + q);
      qrels.put(q, java.util.Map.of("d" + q, 1));
    }
    BeirDataset data = new BeirDataset(java.util.Map.of(), queries, qrels);
    BeirDataset slice = data.restrictedTo(java.util.List.of("q4", "q2"));
    assertThat(slice.queries()).containsExactly(java.util.Map.entry("q2", "text of q2"),
        java.util.Map.entry("q4", "text of q4"));
    assertThat(slice.qrels()).containsOnlyKeys("q2", "q4");
    assertThat(slice.corpus()).isSameAs(data.corpus());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> data.restrictedTo(java.util.List.of("q1", "q9")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q9");
  }
}
