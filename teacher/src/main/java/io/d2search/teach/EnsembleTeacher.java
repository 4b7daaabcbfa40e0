package io.d2search.teach;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.TextHash;
import io.d2search.data.PassageVectors;
import io.d2search.data.VectorCache;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The default teacher, fully offline: an ensemble of bi-encoders stronger than the student's starting point
 * (by default bge-small-en-v1.5 with CLS pooling and e5-small-v2 with mean pooling, each with its instruction
 * prefixes) and BM25, fused per query and calibrated to a probability.
 *
 * <p>For one call {@code score(query, passages)}:
 * <ol>
 *   <li>each component scores every passage: cosine of unit vectors for a bi-encoder; for BM25, {@link Bm25}
 *       (Lucene's English analyzer and formula, statistics of the corpus given at construction) divided by the
 *       query's idf mass, so in {@code [0, 1)};</li>
 *   <li>each component's scores are normalised ({@link Normalization}): by default GLOBAL, {@code (s − center) /
 *       scale} with constants fitted on training candidates, so that a pair's score does not depend on the other
 *       passages of the call; or PER_CALL, z-scored over the passages of the call;</li>
 *   <li>the fused score is the weighted sum of the normalised scores;</li>
 *   <li>the probability is {@link Calibration#apply} of the fused score (Platt scaling fitted on judged data).</li>
 * </ol>
 * With PER_CALL the scores depend on the candidate set (a single passage always gets {@code σ(offset)}, and on
 * SciFact the mean probability of a judged document drops from 0.47 among 100 candidates to 0.04 among 8), which
 * is why GLOBAL is the default. {@link #features} returns the per-component normalised scores of each pair, the
 * teacher's features for feature imitation; {@link #scoreDetailed} returns raw and normalised scores, fused
 * scores and probabilities at once.
 *
 * <p>Passage vectors already seen are memoised per model: on disk (eval's {@link VectorCache}, one file per
 * model) when a cache directory is given, else in a bounded in-memory LRU. Query vectors are computed at every
 * call, as they would be at query time.
 *
 * <p>Thread-safe. {@link #close()} closes the embedders, analyzer and vector caches it created.
 */
public final class EnsembleTeacher implements FeatureTeacher {

  private final EnsembleConfig config;
  private final List<Embedder> embedders;
  private final List<VectorStore> stores;
  private final Bm25 bm25;
  private final List<String> components;
  private final String id;

  private EnsembleTeacher(EnsembleConfig config, List<Embedder> embedders, List<VectorStore> stores, Bm25 bm25) {
    this.config = config;
    this.embedders = embedders;
    this.stores = stores;
    this.bm25 = bm25;
    this.components = config.componentNames();
    StringBuilder sb = new StringBuilder("ensemble");
    for (int c = 0; c < embedders.size(); c++) {
      DenseModel m = config.dense().get(c);
      sb.append(':').append(m.name()).append("@sha256-")
          .append(embedders.get(c).info().backboneSha256(), 0, 16).append('/').append(m.pooling().name())
          .append("/max=").append(m.maxTokens()).append("/prefix-")
          .append(TextHash.sha256(m.queryPrefix() + "\u0000" + m.passagePrefix()), 0, 8);
    }
    sb.append(":bm25@").append(bm25.stats() == null ? "candidates" : bm25.stats().fingerprint());
    Normalization norm = config.normalization();
    sb.append(":norm=").append(norm.mode().name().toLowerCase(Locale.ROOT));
    if (norm.mode() == Normalization.Mode.GLOBAL) {
      sb.append('(').append(norm.centers().stream().map(w -> String.format(Locale.ROOT, "%.4f", w))
          .collect(Collectors.joining(","))).append(';').append(norm.scales().stream()
          .map(w -> String.format(Locale.ROOT, "%.4f", w)).collect(Collectors.joining(","))).append(')');
    }
    sb.append(":w=").append(config.weights().stream().map(w -> String.format(Locale.ROOT, "%.4f", w))
        .collect(Collectors.joining(",")));
    sb.append(String.format(Locale.ROOT, ":platt=%.6f,%.6f", config.calibration().slope(),
        config.calibration().offset()));
    this.id = sb.toString();
  }

  /**
   * Loads the models of the config.
   *
   * @param corpusStats BM25 collection statistics ({@link Bm25#statistics}); null takes them from each call's
   *     candidates
   * @param vectorCacheDir where to keep vectors on disk across runs; null keeps them in memory only
   */
  public static EnsembleTeacher create(EnsembleConfig config, Bm25.Stats corpusStats, Path vectorCacheDir) {
    Objects.requireNonNull(config, "config");
    List<Embedder> embedders = new ArrayList<>();
    List<VectorStore> stores = new ArrayList<>();
    try {
      for (DenseModel m : config.dense()) {
        Embedder e = Embedder.create(new EmbedderConfig(m.name(), m.backbone(), m.maxTokens(), config.batchSize(),
            config.intraOpThreads(), config.provider()), m.pooling());
        embedders.add(e);
        stores.add(vectorCacheDir != null ? new DiskStore(VectorCache.open(vectorCacheDir, e.info()))
            : new LruStore(config.memoEntries()));
      }
    } catch (RuntimeException e) {
      stores.forEach(VectorStore::close);
      embedders.forEach(Embedder::close);
      throw e;
    }
    return new EnsembleTeacher(config, embedders, stores, new Bm25(corpusStats));
  }

  /**
   * {@code ensemble:<model>@sha256-<16 hex>/<pooling>/max=<tokens>/prefix-<8 hex>:…:bm25@<stats fingerprint>
   * :w=<weights>:platt=<slope>,<offset>}.
   */
  @Override
  public String id() {
    return id;
  }

  public EnsembleConfig config() {
    return config;
  }

  /** The component names, dense models then {@code bm25}. */
  @Override
  public List<String> featureNames() {
    return components;
  }

  @Override
  public double[] score(String query, List<String> passages) {
    return scoreDetailed(query, passages).probabilities();
  }

  /** The per-component normalised scores of each pair, {@code [passage][component]}. */
  @Override
  public double[][] features(String query, List<String> passages) {
    return features(scoreDetailed(query, passages).z(), passages.size());
  }

  /** One pass of each query encoder for both (the query is never cached, see {@link #rawScores}). */
  @Override
  public Labels label(String query, List<String> passages) {
    Scores s = scoreDetailed(query, passages);
    return new Labels(s.probabilities(), features(s.z(), passages.size()));
  }

  private double[][] features(double[][] z, int passages) {
    double[][] out = new double[passages][components.size()];
    for (int c = 0; c < z.length; c++) {
      for (int p = 0; p < passages; p++) {
        out[p][c] = z[c][p];
      }
    }
    return out;
  }

  /** Raw component scores, z-scores, fused scores and probabilities of the passages for the query. */
  public Scores scoreDetailed(String query, List<String> passages) {
    return fuse(components, rawScores(query, passages), config.weights(), config.normalization(),
        config.calibration());
  }

  /**
   * Raw component scores, {@code [component][passage]}: cosine for each dense model, then BM25 divided by the
   * sum of the query terms' idf (its bound: each term contributes at most its idf), so that it lies in
   * {@code [0, 1)} for every query. They do not depend on the other passages (with corpus statistics).
   */
  public double[][] rawScores(String query, List<String> passages) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(passages, "passages");
    double[][] raw = new double[components.size()][];
    for (int c = 0; c < embedders.size(); c++) {
      DenseModel m = config.dense().get(c);
      float[] q = queryVector(c, m.queryPrefix() + query);
      List<float[]> ps = vectors(c, passages.stream().map(p -> m.passagePrefix() + p).toList());
      raw[c] = new double[passages.size()];
      for (int i = 0; i < passages.size(); i++) {
        raw[c][i] = dot(q, ps.get(i));
      }
    }
    double[] lexical = bm25.score(query, passages);
    double mass = bm25.idfMass(query, passages);
    for (int i = 0; i < lexical.length; i++) {
      lexical[i] = mass > 0 ? lexical[i] / mass : 0;
    }
    raw[embedders.size()] = lexical;
    return raw;
  }

  /**
   * Fuses raw component scores of one query's candidates: normalise each component, weighted sum, calibration.
   * Static so that weights can be tuned over stored raw scores.
   *
   * @param raw {@code [component][passage]}
   */
  public static Scores fuse(List<String> components, double[][] raw, List<Double> weights,
      Normalization normalization, Calibration calibration) {
    int n = raw.length == 0 ? 0 : raw[0].length;
    double[][] z = new double[raw.length][];
    double[] fused = new double[n];
    for (int c = 0; c < raw.length; c++) {
      z[c] = normalization.apply(c, raw[c]);
      double w = weights.get(c);
      for (int i = 0; i < n; i++) {
        fused[i] += w * z[c][i];
      }
    }
    double[] prob = new double[n];
    for (int i = 0; i < n; i++) {
      prob[i] = calibration.apply(fused[i]);
    }
    return new Scores(components, raw, z, fused, prob);
  }

  /** {@code (x − mean) / std} with the population std; all zeros when the values are (nearly) equal. */
  static double[] zScores(double[] x) {
    double mean = 0;
    for (double v : x) {
      mean += v;
    }
    mean /= Math.max(1, x.length);
    double var = 0;
    for (double v : x) {
      var += (v - mean) * (v - mean);
    }
    double std = Math.sqrt(var / Math.max(1, x.length));
    double[] out = new double[x.length];
    if (std > 1e-12) {
      for (int i = 0; i < x.length; i++) {
        out[i] = (x[i] - mean) / std;
      }
    }
    return out;
  }

  /**
   * Embeds passages ahead of scoring (with a progress bar), so that later calls only look vectors up: the way to
   * pay for a corpus once. Passages are given without prefixes, as to {@link #score}.
   */
  public void precompute(List<String> passages) {
    for (int c = 0; c < embedders.size(); c++) {
      DenseModel m = config.dense().get(c);
      List<String> texts = passages.stream().map(p -> m.passagePrefix() + p).distinct().toList();
      VectorStore store = stores.get(c);
      if (store instanceof DiskStore disk) {
        synchronized (disk) {
          PassageVectors.embed(embedders.get(c), texts, disk.cache, m.name());
        }
      } else {
        vectors(c, texts);
      }
    }
  }

  /**
   * Unit vectors of dense model {@code c} for texts, with that model's query or passage prefix added, from the
   * store or embedded and stored. For the measurement harness (whole-corpus retrieval by one model).
   */
  public List<float[]> denseVectors(int c, List<String> texts, boolean queries) {
    DenseModel m = config.dense().get(c);
    if (queries) {
      return texts.stream().map(t -> queryVector(c, m.queryPrefix() + t)).toList();
    }
    return vectors(c, texts.stream().map(t -> m.passagePrefix() + t).toList());
  }

  /**
   * A query's vector, always computed: queries are not stored (a query-time cost is a cost, and an unbounded
   * stream of queries does not belong in a corpus cache).
   */
  private float[] queryVector(int c, String prefixedQuery) {
    return embedders.get(c).embed(List.of(prefixedQuery)).get(0);
  }

  /** Vectors of model {@code c} for texts (prefixes included), from the store or embedded and stored. */
  private List<float[]> vectors(int c, List<String> texts) {
    VectorStore store = stores.get(c);
    float[][] out = new float[texts.size()][];
    Map<String, List<Integer>> missing = new LinkedHashMap<>();
    for (int i = 0; i < texts.size(); i++) {
      out[i] = store.get(texts.get(i));
      if (out[i] == null) {
        missing.computeIfAbsent(texts.get(i), k -> new ArrayList<>()).add(i);
      }
    }
    if (!missing.isEmpty()) {
      List<String> ask = List.copyOf(missing.keySet());
      List<float[]> fresh = embedders.get(c).embed(ask);
      for (int j = 0; j < ask.size(); j++) {
        store.put(ask.get(j), fresh.get(j));
        for (int i : missing.get(ask.get(j))) {
          out[i] = fresh.get(j);
        }
      }
    }
    return List.of(out);
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (AutoCloseable c : closeables()) {
      try {
        c.close();
      } catch (Exception e) {
        if (first == null) {
          first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private List<AutoCloseable> closeables() {
    List<AutoCloseable> all = new ArrayList<>(stores);
    all.addAll(embedders);
    all.add(bm25);
    return all;
  }

  /**
   * Everything one call computed.
   *
   * @param components component names, dense models then {@code bm25}
   * @param raw raw scores {@code [component][passage]}
   * @param z normalised scores {@code [component][passage]} (z-scores over the call's passages with PER_CALL)
   * @param fused weighted sum of the normalised scores {@code [passage]}
   * @param probabilities calibrated relevance {@code [passage]}, in {@code [0, 1]}
   */
  public record Scores(List<String> components, double[][] raw, double[][] z, double[] fused, double[] probabilities) {}

  /** Text (prefix included) → unit vector of one model. Implementations are thread-safe. */
  private interface VectorStore extends AutoCloseable {
    float[] get(String text);

    void put(String text, float[] vector);

    @Override
    void close();
  }

  /** Eval's append-only vector file, behind a lock (it is not thread-safe itself). */
  private static final class DiskStore implements VectorStore {
    final VectorCache cache;

    DiskStore(VectorCache cache) {
      this.cache = cache;
    }

    @Override
    public synchronized float[] get(String text) {
      return cache.get(text);
    }

    @Override
    public synchronized void put(String text, float[] vector) {
      cache.put(text, vector);
    }

    @Override
    public synchronized void close() {
      cache.close();
    }
  }

  /** A bounded least-recently-used map in memory. */
  private static final class LruStore implements VectorStore {
    private final int capacity;
    private final LinkedHashMap<String, float[]> map;

    LruStore(int capacity) {
      this.capacity = capacity;
      this.map = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
          return size() > LruStore.this.capacity;
        }
      };
    }

    @Override
    public synchronized float[] get(String text) {
      return capacity == 0 ? null : map.get(text);
    }

    @Override
    public synchronized void put(String text, float[] vector) {
      if (capacity > 0) {
        map.put(text, vector);
      }
    }

    @Override
    public synchronized void close() {
      map.clear();
    }
  }
}
