package io.d2search.index;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;
import io.d2search.schemas.AttributeSchema;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.util.QueryBuilder;

/**
 * A point-in-time view of a {@link PassageIndex}, pinned to one Lucene searcher, for searches in steps: the HNSW
 * candidates first, then the vectors of some and the stored fields of others. Every step reads the same reader, so
 * the Lucene doc ids inside {@link Candidate}s stay valid between the calls (a refresh or a merge in between would
 * renumber them). Re-ranking is the use: HNSW top 100, their vectors, a score per vector, then the stored fields of
 * the best k alone.
 *
 * <p>Vectors come from the index itself ({@link FloatVectorValues} of the segment that holds each hit); there is no
 * second stored copy. They are the floats {@link PassageIndex#upsert} was given, bit for bit: the index checks that
 * a vector is unit length but does not normalise it, and every {@link VectorEncoding} keeps the float32 vectors
 * beside any quantized ones.
 *
 * <p>Sees the index as of the last {@link PassageIndex#refresh()} before {@link PassageIndex#searcher()}. Not
 * thread-safe: one thread, one request. Close it promptly (try-with-resources): it holds a reader, and with it the
 * files of segments that merges have replaced since.
 */
public final class PassageSearcher implements AutoCloseable {

  /**
   * One HNSW hit.
   *
   * @param doc the Lucene doc id in the reader of the searcher that returned it; meaningless to any other searcher
   * @param score the HNSW score, as {@link Hit#score()}
   */
  public record Candidate(int doc, float score) {}

  private final SearcherManager searchers;
  private final IndexSearcher searcher;
  private final int efSearch;
  private final VectorEncoding encoding;
  private final double oversample;
  private final AttributeSchema attributes;
  private boolean closed;
  /** The last filter compiled, and its query: a hybrid search applies one filter in both retrievers. */
  private Filter compiledFilter;
  private Query compiledQuery;

  PassageSearcher(SearcherManager searchers, IndexConfig config) {
    this.searchers = searchers;
    this.efSearch = config.efSearch();
    this.encoding = config.encoding();
    this.oversample = config.oversample();
    this.attributes = config.attributes();
    try {
      this.searcher = searchers.acquire();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot acquire a searcher", e);
    }
  }

  /**
   * Approximate nearest neighbours through the HNSW graph, as {@link PassageIndex#search} but without loading
   * stored fields.
   *
   * @param query a unit vector of the index's dimension; copied
   * @param k how many candidates at most, {@code 1 <= k <=} {@link PassageIndex#MAX_K}
   * @return at most {@code k} candidates, best first (scores non-increasing)
   * @throws IllegalArgumentException if {@code k} is out of range, or the query is not a finite unit vector of the
   *     index's dimension
   * @throws IllegalStateException if this searcher is closed
   */
  public List<Candidate> search(float[] query, int k) {
    return search(query, k, Filter.NONE);
  }

  /**
   * Approximate nearest neighbours among the passages that meet the filter. Lucene applies the filter inside the
   * graph search (pre-filtering), and searches the matching vectors exactly when the filter leaves too few of them
   * for the graph to be worth exploring; so k hits come back whenever k passages match.
   *
   * @throws InvalidFilterException if the filter names an unknown attribute or a value its type cannot read
   * @see #search(float[], int)
   */
  public List<Candidate> search(float[] query, int k, Filter filter) {
    checkOpen();
    PassageIndex.checkK(k);
    float[] target = UnitVectors.copyOf(Objects.requireNonNull(query, "query"), "query vector");
    Query only = filterQuery(filter);
    int candidates = Math.max(k, efSearch);
    if (!encoding.quantized()) {
      return top(new KnnFloatVectorQuery(PassageIndex.VECTOR, target, candidates, only), candidates, k);
    }
    // The graph ranks by quantized vectors: gather more, and let the float vectors decide among them (scored as
    // a float32 graph scores them, so scores mean the same whatever the encoding).
    int gathered = (int) Math.ceil(candidates * oversample);
    List<Candidate> graph = top(new KnnFloatVectorQuery(PassageIndex.VECTOR, target, gathered, only), gathered,
        gathered);
    List<float[]> floats = vectors(graph);
    List<Candidate> rescored = new ArrayList<>(graph.size());
    for (int i = 0; i < graph.size(); i++) {
      rescored.add(new Candidate(graph.get(i).doc(), PassageIndex.SIMILARITY.compare(target, floats.get(i))));
    }
    rescored.sort(Comparator.comparingDouble((Candidate c) -> -c.score()).thenComparingInt(Candidate::doc));
    return List.copyOf(rescored.subList(0, Math.min(k, rescored.size())));
  }

  /**
   * BM25 (Lucene's, k1 1.2, b 0.75) over each passage's title and text, analysed by Lucene's English analyzer
   * (stop words, possessives, Porter stemming); any query term may match (OR).
   *
   * @param text the query text; a text of stop words alone finds nothing
   * @param k how many candidates at most, {@code 1 <= k <=} {@link PassageIndex#MAX_K}
   * @param filter what every candidate must meet; {@link Filter#NONE} for all
   * @return at most {@code k} candidates, best first (BM25 scores, non-increasing; equal scores in doc id order)
   * @throws InvalidFilterException as {@link #search(float[], int, Filter)}
   * @throws IllegalArgumentException if the query has more terms than Lucene's clause limit (1024)
   */
  public List<Candidate> keyword(String text, int k, Filter filter) {
    checkOpen();
    PassageIndex.checkK(k);
    Query only = filterQuery(filter);
    try (Analyzer analyzer = PassageIndex.analyzer()) {
      Query terms = new QueryBuilder(analyzer).createBooleanQuery(PassageIndex.KEYWORDS, Objects.requireNonNull(text));
      if (terms == null) {
        return List.of();
      }
      Query query = only == null ? terms
          : new BooleanQuery.Builder().add(terms, Occur.MUST).add(only, Occur.FILTER).build();
      return top(query, k, k);
    } catch (IndexSearcher.TooManyClauses e) {
      throw new IllegalArgumentException("query has more distinct terms than the " + IndexSearcher.getMaxClauseCount()
          + " a keyword search takes");
    }
  }

  /** The Lucene query of a filter against this searcher's reader; null for {@link Filter#NONE}. */
  Query filterQuery(Filter filter) {
    if (!Objects.requireNonNull(filter, "filter").equals(compiledFilter)) {
      compiledQuery = FilterQueries.of(filter, attributes, searcher.getIndexReader());
      compiledFilter = filter;
    }
    return compiledQuery;
  }

  /** The reader's searcher, for {@link PassageIndex}'s exact search. */
  IndexSearcher indexSearcher() {
    return searcher;
  }

  private List<Candidate> top(Query query, int n, int k) {
    try {
      ScoreDoc[] docs = searcher.search(query, n).scoreDocs;
      List<Candidate> top = new ArrayList<>(Math.min(k, docs.length));
      for (int i = 0; i < docs.length && i < k; i++) {
        top.add(new Candidate(docs[i].doc, docs[i].score));
      }
      return top;
    } catch (IOException e) {
      throw new UncheckedIOException("Search failed", e);
    }
  }

  /**
   * The indexed vectors of the candidates, read segment by segment in doc id order (each segment's vector iterator
   * only moves forward).
   *
   * @param candidates from this searcher's {@link #search}; may repeat
   * @return new arrays, in the order of {@code candidates}; the caller may change them
   * @throws IllegalArgumentException if a candidate is not a passage of this searcher's reader
   * @throws IllegalStateException if this searcher is closed
   */
  public List<float[]> vectors(List<Candidate> candidates) {
    checkOpen();
    int[] docs = docs(candidates);
    Integer[] byDoc = IntStream.range(0, docs.length).boxed().sorted(Comparator.comparingInt(i -> docs[i]))
        .toArray(Integer[]::new);
    List<LeafReaderContext> leaves = searcher.getIndexReader().leaves();
    float[][] vectors = new float[docs.length][];
    try {
      LeafReaderContext leaf = null;
      FloatVectorValues values = null;
      KnnVectorValues.DocIndexIterator it = null;
      for (int i : byDoc) {
        if (leaf == null || docs[i] >= leaf.docBase + leaf.reader().maxDoc()) {
          leaf = leaves.get(ReaderUtil.subIndex(docs[i], leaves));
          values = leaf.reader().getFloatVectorValues(PassageIndex.VECTOR);
          it = values == null ? null : values.iterator();
        }
        int target = docs[i] - leaf.docBase;
        if (it != null && it.docID() < target) {
          it.advance(target);
        }
        if (it == null || it.docID() != target) {
          throw new IllegalArgumentException("doc " + docs[i] + " has no vector (not a passage of this searcher)");
        }
        // Off-heap values reuse one buffer per call: copy before the next read.
        vectors[i] = values.vectorValue(it.index()).clone();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read passage vectors", e);
    }
    return List.of(vectors);
  }

  /**
   * The stored passages of the candidates, each with the candidate's score.
   *
   * @param candidates from this searcher's {@link #search}
   * @return hits in the order of {@code candidates}
   * @throws IllegalArgumentException if a candidate is not a doc of this searcher's reader
   * @throws IllegalStateException if this searcher is closed
   */
  public List<Hit> hits(List<Candidate> candidates) {
    checkOpen();
    docs(candidates);
    try {
      StoredFields stored = searcher.storedFields();
      List<Hit> hits = new ArrayList<>(candidates.size());
      for (Candidate c : candidates) {
        hits.add(PassageIndex.hit(stored.document(c.doc()), c.score()));
      }
      return hits;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot load stored passages", e);
    }
  }

  /** Releases the reader. Calling it again does nothing. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      searchers.release(searcher);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot release a searcher", e);
    }
  }

  private int[] docs(List<Candidate> candidates) {
    int maxDoc = searcher.getIndexReader().maxDoc();
    int[] docs = new int[candidates.size()];
    for (int i = 0; i < docs.length; i++) {
      int doc = Objects.requireNonNull(candidates.get(i), "candidate").doc();
      if (doc < 0 || doc >= maxDoc) {
        throw new IllegalArgumentException("doc " + doc + " is not in this searcher's reader (maxDoc " + maxDoc + ")");
      }
      docs[i] = doc;
    }
    return docs;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("searcher is closed");
    }
  }
}
