package io.d2search.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.data.BeirDataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalPassageTest {
  @TempDir Path dir;

  @Test
  void wholeDocumentsAreEmbeddedAsTitleAndText() throws IOException {
    Files.writeString(dir.resolve("corpus.jsonl"), """
        {"_id": "d1", "title": "T1", "text": "first"}
        {"_id": "d2", "title": "", "text": "second"}
        """);
    Files.writeString(dir.resolve("queries.jsonl"), "{\"_id\": \"q2\", \"text\": \"query two\"}\n");
    Files.createDirectories(dir.resolve("qrels"));
    Files.writeString(dir.resolve("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq2\td1\t1\n");
    BeirDataset data = BeirDataset.load(dir, "test");
    assertThat(EvalPassage.wholeDocs(data)).extracting(EvalPassage::embedText).containsExactly("T1 first", "second");
    assertThat(EvalPassage.texts(EvalPassage.wholeDocs(data))).containsExactly("T1 first", "second");
  }
}
