package io.d2search.index;

import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.PassageId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.common.TopicPartition;
import io.d2search.embed.EmbedText;
import io.d2search.schemas.AttributeSchema;
import io.d2search.schemas.AttributeType;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.LongPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene104.Lucene104Codec;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.NRTCachingDirectory;
import org.apache.lucene.util.Bits;

/**
 * The passages of one model version in a Lucene index on local disk, with an HNSW graph over their vectors.
 *
 * <p>One document per passage, keyed by passage id, so {@link #upsert} and {@link #delete} are idempotent and a
 * replay of the {@code embeddings} topic is harmless. Similarity is {@link VectorSimilarityFunction#DOT_PRODUCT}
 * over unit vectors: a hit's score is Lucene's {@code (1 + q·p) / 2}, in [0, 1], i.e. cosine similarity mapped
 * from [-1, 1]. Vectors that are not unit length are refused, and those accepted are indexed as given (not
 * normalised again), so {@link PassageSearcher#vectors} reads back exactly what the embedder produced.
 *
 * <p><b>Offsets travel with the index.</b> {@link #commit(Map)} writes the Kafka positions that the index
 * reflects into the Lucene commit's user data, in the same atomic commit as the documents, and
 * {@link #committedOffsets()} reads them back after a restart. Changes made after the last commit are discarded
 * by {@link #close()} (as a crash would lose them); the consumer replays them from the committed offsets.
 *
 * <p><b>Visibility.</b> Searches see the index as of the last {@link #refresh()} (near-real-time, without a
 * commit). {@link #size()} counts the same view.
 *
 * <p><b>Model version.</b> The index is stamped with the model version it was created for; opening it for
 * another version, or adding an embedding of another version, fails with {@link ModelVersionMismatchException}.
 *
 * <p>Thread-safe: any number of threads may search while one thread writes. Offsets only mean something if
 * the writes between two commits are exactly the records below those offsets, so in practice a single
 * consumer thread writes and commits. The index owns its {@link IndexWriter}, searchers and directory; each
 * search acquires a searcher and releases it before returning (a {@link PassageSearcher} holds one until it is
 * closed), and {@link #close()} closes them all.
 */
public final class PassageIndex implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PassageIndex.class);

  static final String ID = "id";
  static final String DOC_ID = "docId";
  static final String N = "n";
  static final String TITLE = "title";
  static final String TEXT = "text";
  static final String URL = "url";
  static final String MODEL_VERSION = "modelVersion";
  static final String TEXT_HASH = "textHash";
  static final String DOC_VERSION = "docVersion";
  static final String VECTOR = "vector";
  /** Title and text as one BM25 field (English analyzer), indexed, not stored. */
  static final String KEYWORDS = "keywords";
  /** Stored attributes, one {@code name\0value} entry each; filters use the indexed {@code attr.<name>} fields. */
  static final String ATTRIBUTES = "attributes";

  /** Commit user data key of the model version. */
  static final String MODEL_VERSION_KEY = "d2search.modelVersion";
  /** Commit user data key prefix of an offset: {@code offset:topic:partition}; topic names cannot hold ':'. */
  static final String OFFSET_PREFIX = "offset:";
  /** Commit user data key of the index format: which fields the passages have and how they are analysed. */
  static final String FORMAT_KEY = "d2search.indexFormat";
  /** Format 2: keyword field and attributes (format 1, unstamped, had neither). */
  static final String FORMAT = "2";
  /** Commit user data key of the {@link AttributeSchema} the attribute fields were indexed by. */
  static final String ATTRIBUTES_KEY = "d2search.attributes";

  /** The largest k a search accepts. */
  public static final int MAX_K = 10_000;

  static final VectorSimilarityFunction SIMILARITY = VectorSimilarityFunction.DOT_PRODUCT;
  /** Flushed or merged segments up to this size stay in the near-real-time cache (Lucene's suggested 5 MB). */
  static final double NRT_CACHE_MAX_MERGE_MB = 5;
  /** The near-real-time cache's whole budget (Lucene's suggested 60 MB). */
  static final double NRT_CACHE_MAX_MB = 60;

  private final Path dir;
  private final String modelVersion;
  private final IndexConfig config;
  private final Directory directory;
  private final IndexWriter writer;
  private final SearcherManager searchers;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile Map<TopicPartition, Long> committed;

  private PassageIndex(Path dir, String modelVersion, IndexConfig config, Directory directory, IndexWriter writer,
      SearcherManager searchers, Map<TopicPartition, Long> committed) {
    this.dir = dir;
    this.modelVersion = modelVersion;
    this.config = config;
    this.directory = directory;
    this.writer = writer;
    this.searchers = searchers;
    this.committed = committed;
  }

  /**
   * Opens the index in {@code dir}, creating it (and the directory) when there is none. A new index is
   * committed at once, stamped with {@code modelVersion} and no offsets.
   *
   * @param dir the index's own directory; one process at a time (Lucene's write lock)
   * @param modelVersion the model version of every vector in this index
   * @param config HNSW parameters; they apply to segments written from now on
   * @throws ModelVersionMismatchException if the index in {@code dir} was made for another model version
   * @throws IllegalStateException if {@code dir} holds a Lucene index that is not a passage index
   * @throws UncheckedIOException if the index cannot be opened, e.g. another process holds its lock
   */
  public static PassageIndex open(Path dir, String modelVersion, IndexConfig config) {
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(modelVersion, "modelVersion");
    Objects.requireNonNull(config, "config");
    if (modelVersion.isBlank()) {
      throw new IllegalArgumentException("modelVersion must not be blank");
    }
    Directory directory = null;
    IndexWriter writer = null;
    try {
      Files.createDirectories(dir);
      // MMapDirectory on 64-bit JVMs, behind Lucene's near-real-time cache: the materialiser refreshes after every
      // poll, and each refresh flushes a tiny segment; those (and merges of them) stay in RAM until a commit or a
      // larger merge writes them out, instead of a dozen files created and written per refresh.
      directory = new NRTCachingDirectory(FSDirectory.open(dir), NRT_CACHE_MAX_MERGE_MB, NRT_CACHE_MAX_MB);
      Map<TopicPartition, Long> offsets = Map.of();
      boolean exists = DirectoryReader.indexExists(directory);
      boolean rebuild = false;
      if (exists) {
        Map<String, String> userData = SegmentInfos.readLatestCommit(directory).getUserData();
        String stamped = userData.get(MODEL_VERSION_KEY);
        if (stamped == null) {
          throw new IllegalStateException("Lucene index in " + dir + " is not a passage index (no model version)");
        }
        if (!stamped.equals(modelVersion)) {
          throw new ModelVersionMismatchException(stamped, modelVersion);
        }
        String format = userData.getOrDefault(FORMAT_KEY, "1");
        String attributes = userData.getOrDefault(ATTRIBUTES_KEY, "");
        if (!format.equals(FORMAT) || !attributes.equals(config.attributes().toString())) {
          // The index is a view of the embeddings topic: an empty one with no offsets replays it from the start.
          log.warn("Passage index in {} has format {} and attributes [{}]; this build needs format {} and "
              + "attributes [{}]: rebuilding it from the embeddings topic", dir, format, attributes, FORMAT,
              config.attributes());
          rebuild = true;
        } else {
          offsets = CommitData.offsets(userData);
        }
      }
      writer = new IndexWriter(directory, writerConfig(config)
          .setOpenMode(rebuild ? IndexWriterConfig.OpenMode.CREATE : IndexWriterConfig.OpenMode.CREATE_OR_APPEND));
      // Set explicitly so every later commit carries the version, whatever the writer carried over.
      writer.setLiveCommitData(CommitData.of(modelVersion, config.attributes().toString(), offsets).entrySet());
      if (!exists || rebuild) {
        writer.commit();
      }
      SearcherManager searchers = new SearcherManager(writer, null);
      return new PassageIndex(dir, modelVersion, config, directory, writer, searchers, offsets);
    } catch (IOException e) {
      closeQuietly(writer, directory);
      throw new UncheckedIOException("Cannot open the passage index in " + dir + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(writer, directory);
      throw e;
    }
  }

  private static IndexWriterConfig writerConfig(IndexConfig config) {
    return new IndexWriterConfig(analyzer())
        .setCodec(codec(config))
        .setRAMBufferSizeMB(config.ramBufferMb())
        // Uncommitted changes have no offsets to go with them; dropping them keeps index and offsets in step.
        .setCommitOnClose(false);
  }

  /** The keyword field's analyzer, at index and query time: what eval's BM25 baseline has always used. */
  static Analyzer analyzer() {
    return new EnglishAnalyzer();
  }

  /**
   * The current default codec with our HNSW parameters for every vector field. The codec keeps its name, and
   * the per-field format records its own, so the index reads back with the stock codec.
   */
  private static Codec codec(IndexConfig config) {
    KnnVectorsFormat hnsw = config.encoding().format(config.hnswM(), config.hnswBeamWidth());
    return new Lucene104Codec() {
      @Override
      public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
        return hnsw;
      }
    };
  }

  /** The model version of every vector in this index. */
  public String modelVersion() {
    return modelVersion;
  }

  /** The index directory. */
  public Path dir() {
    return dir;
  }

  /** The HNSW and search parameters. */
  public IndexConfig config() {
    return config;
  }

  /**
   * Adds the passage, or replaces it if the index has it already. Not visible to searches before the next
   * {@link #refresh()}, not durable before the next {@link #commit(Map)}.
   *
   * @param passageId the record key, {@code docId#n}; must agree with the embedding's docId and n
   * @param embedding the passage and its vector; never null
   * @throws ModelVersionMismatchException if the embedding was made by another model version than the index's
   * @throws IllegalArgumentException if the id does not match the embedding, or the vector is not a finite unit
   *     vector of the index's dimension
   * @throws UncheckedIOException if Lucene cannot write
   */
  public void upsert(String passageId, PassageEmbedding embedding) {
    Objects.requireNonNull(passageId, "passageId");
    Objects.requireNonNull(embedding, "embedding");
    if (!modelVersion.equals(embedding.getModelVersion())) {
      throw new ModelVersionMismatchException(modelVersion, embedding.getModelVersion());
    }
    String expectedId = new PassageId(embedding.getDocId(), embedding.getN()).toString();
    if (!expectedId.equals(passageId)) {
      throw new IllegalArgumentException("key " + passageId + " does not match the embedding's passage " + expectedId);
    }
    float[] vector = UnitVectors.copyOf(embedding.getVector(), "vector of " + passageId);
    Document doc = new Document();
    doc.add(new StringField(ID, passageId, Field.Store.YES));
    doc.add(new StringField(DOC_ID, embedding.getDocId(), Field.Store.YES));
    doc.add(new StoredField(N, embedding.getN()));
    if (embedding.getTitle() != null) {
      doc.add(new StoredField(TITLE, embedding.getTitle()));
    }
    doc.add(new StoredField(TEXT, embedding.getText()));
    // What the passage's vector was made from, so BM25 and the embedder see the same text.
    doc.add(new TextField(KEYWORDS, EmbedText.of(embedding.getTitle(), embedding.getText()), Field.Store.NO));
    embedding.getAttributes().forEach((name, value) -> addAttribute(doc, name, value));
    if (embedding.getUrl() != null) {
      doc.add(new StoredField(URL, embedding.getUrl()));
    }
    doc.add(new StoredField(MODEL_VERSION, embedding.getModelVersion()));
    doc.add(new StoredField(TEXT_HASH, embedding.getTextHash()));
    doc.add(new StoredField(DOC_VERSION, embedding.getDocVersion()));
    doc.add(new KnnFloatVectorField(VECTOR, vector, SIMILARITY));
    try {
      writer.updateDocument(new Term(ID, passageId), doc);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot index passage " + passageId, e);
    }
  }

  /**
   * Stores an attribute for the results and indexes it for filters by its schema type. A value the type cannot
   * read (the validator dead-letters such documents, so only an older event or a changed schema gets here) is
   * stored but matches no filter: the passage stays searchable.
   */
  private void addAttribute(Document doc, String name, String value) {
    doc.add(new StoredField(ATTRIBUTES, name + '\0' + value));
    if (!AttributeSchema.NAME.matcher(name).matches()) {
      return;
    }
    String field = FilterQueries.FIELD_PREFIX + name;
    AttributeType type = config.attributes().typeOf(name);
    try {
      switch (type) {
        case KEYWORD -> doc.add(new StringField(field, value, Field.Store.NO));
        case DOUBLE -> doc.add(new DoublePoint(field, AttributeType.parseDouble(value)));
        case LONG, DATE -> doc.add(new LongPoint(field, type.parseLong(value)));
      }
    } catch (IllegalArgumentException e) {
      log.warn("Attribute {} of passage {} is not filterable: {}", name, doc.get(ID), e.getMessage());
    }
  }

  /**
   * Removes the passage if the index has it; does nothing otherwise. Visibility and durability as for
   * {@link #upsert}.
   *
   * @throws UncheckedIOException if Lucene cannot write
   */
  public void delete(String passageId) {
    Objects.requireNonNull(passageId, "passageId");
    try {
      writer.deleteDocuments(new Term(ID, passageId));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot delete passage " + passageId, e);
    }
  }

  /**
   * Makes every change so far durable, together with the Kafka positions they reflect, in one Lucene commit.
   * Offsets of partitions not in {@code nextOffsets} keep their committed value.
   *
   * @param nextOffsets per partition, the offset of the next record to apply (the consumer's position); each
   *     {@code >= 0}
   * @throws UncheckedIOException if the commit fails; the previous commit stays intact
   */
  public synchronized void commit(Map<TopicPartition, Long> nextOffsets) {
    Objects.requireNonNull(nextOffsets, "nextOffsets");
    Map<TopicPartition, Long> merged = new TreeMap<>(CommitData.PARTITION_ORDER);
    merged.putAll(committed);
    nextOffsets.forEach((tp, offset) -> {
      if (offset == null || offset < 0) {
        throw new IllegalArgumentException("offset of " + tp + " must be >= 0: " + offset);
      }
      merged.put(tp, offset);
    });
    try {
      writer.setLiveCommitData(CommitData.of(modelVersion, config.attributes().toString(), merged).entrySet());
      writer.commit();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot commit the passage index in " + dir, e);
    }
    committed = Collections.unmodifiableMap(merged);
  }

  /**
   * Per partition, the offset of the next record to apply, as of the last commit (read from the index on
   * {@link #open}); empty for a new index. Immutable.
   */
  public Map<TopicPartition, Long> committedOffsets() {
    return committed;
  }

  /**
   * Makes changes so far visible to searches (near-real-time: no commit, no fsync). Waits if another thread is
   * refreshing, so that on return this caller's own changes are visible.
   *
   * @throws UncheckedIOException if a new reader cannot be opened
   */
  public void refresh() {
    try {
      searchers.maybeRefreshBlocking();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot refresh the passage index searcher", e);
    }
  }

  /**
   * Approximate nearest neighbours through the HNSW graph: asks the graph for {@code max(k, efSearch)}
   * candidates and keeps the best {@code k}. With a quantized {@link VectorEncoding} the graph gathers
   * {@code oversample} times as many, which the float vectors re-score; scores are always the float vectors'.
   *
   * @param query a unit vector of the index's dimension; copied, so the caller may reuse the array
   * @param k how many hits at most, {@code 1 <= k <=} {@link #MAX_K}
   * @return at most {@code k} hits, best first (scores non-increasing); fewer when the index has fewer passages
   * @throws IllegalArgumentException if {@code k} is out of range, or the query is not a finite unit vector of
   *     the index's dimension
   */
  public List<Hit> search(float[] query, int k) {
    try (PassageSearcher searcher = searcher()) {
      return searcher.hits(searcher.search(query, k));
    }
  }

  /**
   * A view pinned to the current searcher, for searches in steps (HNSW candidates, then their vectors, then stored
   * fields of some) that need Lucene doc ids to stay valid in between. The caller closes it, soon.
   */
  public PassageSearcher searcher() {
    return new PassageSearcher(searchers, config);
  }

  /**
   * Exact nearest neighbours by brute force over every live vector: the ground truth for measuring the recall
   * of {@link #search}. Linear in the index size; not for serving. Ties go to the lower Lucene doc id.
   *
   * @param query a unit vector of the index's dimension; copied
   * @param k how many hits at most, {@code 1 <= k <=} {@link #MAX_K}
   * @return at most {@code k} hits, best first, scored like {@link #search}
   * @throws IllegalArgumentException as {@link #search}
   */
  public List<Hit> searchExact(float[] query, int k) {
    return searchExact(query, k, Filter.NONE);
  }

  /**
   * Exact nearest neighbours among the passages that meet the filter: the ground truth of a filtered
   * {@link PassageSearcher#search(float[], int, Filter)}.
   *
   * @throws InvalidFilterException if the filter cannot be applied
   * @see #searchExact(float[], int)
   */
  public List<Hit> searchExact(float[] query, int k, Filter filter) {
    checkK(k);
    float[] target = UnitVectors.copyOf(Objects.requireNonNull(query, "query"), "query vector");
    try (PassageSearcher pinned = searcher()) {
      IndexSearcher searcher = pinned.indexSearcher();
      Query only = pinned.filterQuery(filter);
      Weight matching = only == null ? null
          : searcher.createWeight(searcher.rewrite(only), ScoreMode.COMPLETE_NO_SCORES, 1);
      // Min-heap of the best k so far: the root is the one to evict.
      Comparator<ScoreDoc> best = Comparator.<ScoreDoc>comparingDouble(d -> d.score).reversed()
          .thenComparingInt(d -> d.doc);
      PriorityQueue<ScoreDoc> heap = new PriorityQueue<>(k + 1, best.reversed());
      for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
        FloatVectorValues values = leaf.reader().getFloatVectorValues(VECTOR);
        if (values == null) {
          continue;
        }
        if (values.dimension() != target.length) {
          throw new IllegalArgumentException(
              "query vector has dimension " + target.length + ", the index " + values.dimension());
        }
        Bits live = leaf.reader().getLiveDocs();
        KnnVectorValues.DocIndexIterator it = values.iterator();
        Scorer scorer = matching == null ? null : matching.scorer(leaf);
        if (matching != null && scorer == null) {
          continue; // no passage of this segment matches
        }
        DocIdSetIterator match = scorer == null ? null : scorer.iterator();
        for (int doc = it.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
          if (live != null && !live.get(doc)) {
            continue;
          }
          if (match != null && (match.docID() > doc || (match.docID() < doc && match.advance(doc) != doc))) {
            continue;
          }
          heap.add(new ScoreDoc(leaf.docBase + doc, SIMILARITY.compare(target, values.vectorValue(it.index()))));
          if (heap.size() > k) {
            heap.poll();
          }
        }
      }
      List<ScoreDoc> sorted = new ArrayList<>(heap);
      sorted.sort(best);
      StoredFields stored = searcher.storedFields();
      List<Hit> hits = new ArrayList<>(sorted.size());
      for (ScoreDoc d : sorted) {
        hits.add(hit(stored.document(d.doc), d.score));
      }
      return hits;
    } catch (IOException e) {
      throw new UncheckedIOException("Exact search failed", e);
    }
  }

  /** The passage with this id as of the last {@link #refresh()}, if the index has it. */
  public Optional<StoredPassage> get(String passageId) {
    Objects.requireNonNull(passageId, "passageId");
    IndexSearcher searcher = acquire();
    try {
      int doc = docOf(searcher, passageId);
      return doc < 0 ? Optional.empty() : Optional.of(stored(searcher.storedFields().document(doc)));
    } catch (IOException e) {
      throw new UncheckedIOException("Lookup of " + passageId + " failed", e);
    } finally {
      release(searcher);
    }
  }

  /** The searcher's doc id of a passage (ids are unique: upserts replace), or -1. */
  private static int docOf(IndexSearcher searcher, String passageId) throws IOException {
    TopDocs top = searcher.search(new TermQuery(new Term(ID, passageId)), 1);
    return top.scoreDocs.length == 0 ? -1 : top.scoreDocs[0].doc;
  }

  /**
   * The vector of the passage with this id as of the last {@link #refresh()}, if the index has it: for checks that
   * compare indexes (the fault-injection suite against a clean run), never for a search.
   */
  public Optional<float[]> vector(String passageId) {
    Objects.requireNonNull(passageId, "passageId");
    IndexSearcher searcher = acquire();
    try {
      int doc = docOf(searcher, passageId);
      if (doc < 0) {
        return Optional.empty();
      }
      List<LeafReaderContext> leaves = searcher.getIndexReader().leaves();
      LeafReaderContext leaf = leaves.get(org.apache.lucene.index.ReaderUtil.subIndex(doc, leaves));
      FloatVectorValues values = leaf.reader().getFloatVectorValues(VECTOR);
      if (values == null) {
        return Optional.empty();
      }
      org.apache.lucene.index.KnnVectorValues.DocIndexIterator it = values.iterator();
      int target = doc - leaf.docBase;
      if (it.advance(target) != target) {
        return Optional.empty();
      }
      return Optional.of(values.vectorValue(it.index()).clone()); // off-heap values reuse their buffer
    } catch (IOException e) {
      throw new UncheckedIOException("Reading the vector of " + passageId + " failed", e);
    } finally {
      release(searcher);
    }
  }

  /**
   * Every passage as of the last {@link #refresh()}, in index order (a full scan of stored fields: for jobs that
   * need the whole corpus, such as a retraining refresh, never for a search).
   */
  public void forEachPassage(java.util.function.Consumer<StoredPassage> action) {
    Objects.requireNonNull(action, "action");
    IndexSearcher searcher = acquire();
    try {
      for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
        org.apache.lucene.util.Bits live = leaf.reader().getLiveDocs();
        StoredFields fields = leaf.reader().storedFields();
        for (int doc = 0; doc < leaf.reader().maxDoc(); doc++) {
          if (live == null || live.get(doc)) {
            action.accept(stored(fields.document(doc)));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Scanning the passages failed", e);
    } finally {
      release(searcher);
    }
  }

  private static StoredPassage stored(Document d) {
    return new StoredPassage(d.get(ID), d.get(DOC_ID), d.getField(N).numericValue().intValue(), d.get(TITLE),
        d.get(TEXT), d.get(URL), d.get(MODEL_VERSION), d.get(TEXT_HASH),
        d.getField(DOC_VERSION).numericValue().longValue());
  }

  /** Number of passages as of the last {@link #refresh()}. */
  public int size() {
    IndexSearcher searcher = acquire();
    try {
      return searcher.getIndexReader().numDocs();
    } finally {
      release(searcher);
    }
  }

  /**
   * The bytes of the vector field's files that searches read from memory-mapped storage, by Lucene file extension,
   * summed over the segments as of the last {@link #refresh()}: {@code vex} the HNSW graph, {@code vec} the float
   * vectors, {@code veq} the quantized ones (with a quantized {@link VectorEncoding}). A graph search reads the graph
   * and the vectors it compares for every node it visits, so those are what must stay in the page cache.
   */
  public Map<String, Long> vectorBytes() {
    IndexSearcher searcher = acquire();
    try {
      Map<String, Long> bytes = new java.util.TreeMap<>();
      for (org.apache.lucene.index.LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
        if (org.apache.lucene.index.FilterLeafReader.unwrap(leaf.reader())
            instanceof org.apache.lucene.index.CodecReader codec) {
          org.apache.lucene.index.FieldInfo field = codec.getFieldInfos().fieldInfo(VECTOR);
          if (field != null && codec.getVectorReader() != null) {
            codec.getVectorReader().getOffHeapByteSize(field).forEach((ext, n) -> bytes.merge(ext, n, Long::sum));
          }
        }
      }
      return bytes;
    } finally {
      release(searcher);
    }
  }

  /**
   * Closes searchers, writer and directory. Changes since the last {@link #commit(Map)} are discarded. Calling
   * it again does nothing. Searches running concurrently finish on the reader they hold.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      searchers.close();
      writer.close(); // commitOnClose=false: rolls back to the last commit
      directory.close();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot close the passage index in " + dir, e);
    }
  }

  static Hit hit(Document d, float score) {
    return new Hit(d.get(ID), d.get(DOC_ID), d.getField(N).numericValue().intValue(), d.get(TITLE), d.get(TEXT),
        d.get(URL), attributes(d), score);
  }

  private static Map<String, String> attributes(Document d) {
    String[] entries = d.getValues(ATTRIBUTES);
    if (entries.length == 0) {
      return Map.of();
    }
    Map<String, String> attributes = new TreeMap<>();
    for (String e : entries) {
      int sep = e.indexOf('\0');
      attributes.put(e.substring(0, sep), e.substring(sep + 1));
    }
    return Collections.unmodifiableMap(attributes);
  }

  static void checkK(int k) {
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be in [1, " + MAX_K + "]: " + k);
    }
  }

  private IndexSearcher acquire() {
    try {
      return searchers.acquire();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot acquire a searcher", e);
    }
  }

  private void release(IndexSearcher searcher) {
    try {
      searchers.release(searcher);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot release a searcher", e);
    }
  }

  private static void closeQuietly(IndexWriter writer, Directory directory) {
    try {
      if (writer != null) {
        writer.rollback();
      }
    } catch (IOException | RuntimeException ignored) {
      // Already failing; the original exception is the one to report.
    }
    try {
      if (directory != null) {
        directory.close();
      }
    } catch (IOException | RuntimeException ignored) {
      // As above.
    }
  }
}
