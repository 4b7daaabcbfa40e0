package io.d2search.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.util.QueryBuilder;

/**
 * Lucene BM25 (k1=1.2, b=0.75) over the same passages the dense retrievers see, with Lucene's English analyzer
 * (stop words, possessives, Porter stemming), as BEIR's Elasticsearch baseline does. Documents are scored as
 * their best passage.
 */
public final class Bm25Retriever implements Retriever, AutoCloseable {
  /** {@link #name()}. */
  public static final String NAME = "BM25 (Lucene)";

  private static final String BODY = "body";
  private static final String DOC_ID = "docId";

  private final Analyzer analyzer = new EnglishAnalyzer();
  private final Directory directory = new ByteBuffersDirectory();
  private final DirectoryReader reader;
  private final IndexSearcher searcher;
  private final int maxPassagesPerDoc;

  public Bm25Retriever(List<EvalPassage> passages) {
    try (IndexWriter writer = new IndexWriter(directory, new IndexWriterConfig(analyzer))) {
      for (EvalPassage p : passages) {
        Document doc = new Document();
        doc.add(new StoredField(DOC_ID, p.docId()));
        doc.add(new TextField(BODY, p.embedText(), Field.Store.NO));
        writer.addDocument(doc);
      }
      writer.forceMerge(1);
      reader = DirectoryReader.open(writer);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    searcher = new IndexSearcher(reader);
    maxPassagesPerDoc = (int) passages.stream().collect(
        java.util.stream.Collectors.groupingBy(EvalPassage::docId, java.util.stream.Collectors.counting()))
        .values().stream().mapToLong(Long::longValue).max().orElse(1);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public List<ScoredDoc> search(String query, int k) {
    Query q = new QueryBuilder(analyzer).createBooleanQuery(BODY, query);
    if (q == null) {
      return List.of(); // the query was only stop words
    }
    try {
      // Enough passages that k distinct documents survive aggregation.
      ScoreDoc[] hits = searcher.search(q, k * Math.min(maxPassagesPerDoc, 10)).scoreDocs;
      TopDocs top = new TopDocs();
      var stored = searcher.storedFields();
      for (ScoreDoc hit : hits) {
        top.offer(stored.document(hit.doc).get(DOC_ID), hit.score);
      }
      return top.top(k);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws IOException {
    reader.close();
    directory.close();
    analyzer.close();
  }
}
