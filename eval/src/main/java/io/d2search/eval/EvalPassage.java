package io.d2search.eval;

import io.d2search.ingest.CorpusDocument;
import io.d2search.data.BeirDataset;
import io.d2search.embed.EmbedText;
import io.d2search.ingest.Chunker;
import java.util.ArrayList;
import java.util.List;

/**
 * A unit of retrieval in evaluation: a whole document, or one chunk of it cut by the indexer's own
 * {@link Chunker}. Documents are scored as the best of their passages.
 *
 * @param passageId {@code docId#n}
 * @param docId the document
 * @param n position in the document
 * @param title the document title
 * @param text the passage text
 */
public record EvalPassage(String passageId, String docId, int n, String title, String text) {

  /** The text the embedder sees, exactly as the indexer embeds a passage. */
  public String embedText() {
    return EmbedText.of(title, text);
  }

  /** The embedding input of every passage. */
  public static List<String> texts(List<EvalPassage> passages) {
    return passages.stream().map(EvalPassage::embedText).toList();
  }

  /** One passage per document ({@code title + " " + text}, truncated by the embedder as BEIR does). */
  public static List<EvalPassage> wholeDocs(BeirDataset data) {
    List<EvalPassage> out = new ArrayList<>(data.corpus().size());
    for (CorpusDocument d : data.corpus().values()) {
      out.add(new EvalPassage(d.id() + "#0", d.id(), 0, d.title(), d.text()));
    }
    return out;
  }

  /** Documents cut into passages as the indexer cuts them. */
  public static List<EvalPassage> chunked(BeirDataset data, Chunker chunker) {
    List<EvalPassage> out = new ArrayList<>();
    for (CorpusDocument d : data.corpus().values()) {
      List<String> chunks = chunker.chunk(d.text());
      if (chunks.isEmpty()) {
        chunks = List.of(d.text()); // a title-only document is still retrievable by its title
      }
      for (int n = 0; n < chunks.size(); n++) {
        out.add(new EvalPassage(d.id() + "#" + n, d.id(), n, d.title(), chunks.get(n)));
      }
    }
    return out;
  }
}
