package io.d2search.bundle;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The data window a student was distilled from: a manifest's {@code training.data} section, typed. It says which
 * judged queries the heads trained on and which they were held out of, so that eval can derive the queries a
 * bundle never saw (its unseen subset, its held-out slice) and two bundles can be compared or averaged only when
 * they share one window.
 *
 * <p>Every component may be null: null means "not recorded", by a manifest older than the field (bundles written
 * before held-out kinds, pseudo-query positives or the negatives' depth existed) or by a window that is not about
 * BEIR judgements at all (tests, other sources). {@link #toMap()} leaves null components out, so that
 * {@code fromMap(m).toMap()} equals {@code m} for every map written in this format; keys this class does not know
 * are ignored when reading. Immutable and thread-safe.
 *
 * @param source where the queries came from: {@code beir} for judged BEIR queries
 * @param dataset the BEIR dataset's directory name (e.g. {@code scifact})
 * @param split the qrels split trained on (e.g. {@code train})
 * @param queries the split's queries with at least one relevant document, before any was held out
 * @param judgedTraining whether the judged queries that were not held out were trained on (false: pseudo-queries
 *     alone trained, the judged ones were only held out)
 * @param heldOutQueries how many judged queries were held out (early stopping and the bundle's metrics)
 * @param heldOutKind how they were drawn: {@code unseen} or {@code random}
 * @param pseudoQueries the pseudo-queries trained on
 * @param negatives where each query's hard negatives came from
 */
public record TrainingWindow(String source, String dataset, String split, Integer queries, Boolean judgedTraining,
    Integer heldOutQueries, String heldOutKind, PseudoQueries pseudoQueries, Negatives negatives) {

  /** {@code training.data}: where the window is in a manifest's training section. */
  public static final String KEY = "data";
  /** The source of judged BEIR queries. */
  public static final String BEIR = "beir";

  /**
   * The pseudo-queries: queries made from corpus documents, not judged ones.
   *
   * @param count how many were trained on
   * @param kind what a pseudo-query is, in words (e.g. {@code document title})
   * @param positive what its positive is, in words (e.g. {@code its document}); null in windows written before
   *     the positive could be the teacher's pick
   */
  public record PseudoQueries(int count, String kind, String positive) {
    public PseudoQueries {
      Objects.requireNonNull(kind, "pseudoQueries.kind");
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("count", count);
      m.put("kind", kind);
      putIfPresent(m, "positive", positive);
      return m;
    }

    static PseudoQueries fromMap(Map<?, ?> m) {
      return new PseudoQueries(requireInteger(m, "pseudoQueries.count", "count"),
          requireString(m, "pseudoQueries.kind", "kind"), string(m, "pseudoQueries.positive", "positive"));
    }
  }

  /**
   * The hard negatives mined per query.
   *
   * @param k how many per query, K
   * @param fromIndex how many of the K came from the parent's HNSW index (the rest from {@code lexical})
   * @param indexDepth the index ranks they were drawn across; null in windows written before it was recorded
   *     (they took the top ones)
   * @param index which index, in words (e.g. {@code bundle 0 HNSW})
   * @param lexical the lexical retriever the others came from (e.g. {@code bm25})
   */
  public record Negatives(int k, int fromIndex, Integer indexDepth, String index, String lexical) {
    public Negatives {
      Objects.requireNonNull(index, "negatives.index");
      Objects.requireNonNull(lexical, "negatives.lexical");
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("k", k);
      m.put("fromIndex", fromIndex);
      putIfPresent(m, "indexDepth", indexDepth);
      m.put("index", index);
      m.put("lexical", lexical);
      return m;
    }

    static Negatives fromMap(Map<?, ?> m) {
      return new Negatives(requireInteger(m, "negatives.k", "k"), requireInteger(m, "negatives.fromIndex",
          "fromIndex"), integer(m, "negatives.indexDepth", "indexDepth"), requireString(m, "negatives.index", "index"),
          requireString(m, "negatives.lexical", "lexical"));
    }
  }

  /**
   * Whether both windows name the same data: source, dataset and split. Counts may differ (a held-out fraction, a
   * number of pseudo-queries); what eval derives from a window, the split's judged queries, does not.
   */
  public boolean sameData(TrainingWindow other) {
    return Objects.equals(source, other.source) && Objects.equals(dataset, other.dataset)
        && Objects.equals(split, other.split);
  }

  /**
   * The section as the manifest holds it: recorded components only, in the order {@code distill} has always
   * written them (the manifest sorts keys anyway).
   */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    putIfPresent(m, "source", source);
    putIfPresent(m, "dataset", dataset);
    putIfPresent(m, "split", split);
    putIfPresent(m, "queries", queries);
    putIfPresent(m, "judgedTraining", judgedTraining);
    putIfPresent(m, "heldOutQueries", heldOutQueries);
    putIfPresent(m, "heldOutKind", heldOutKind);
    putIfPresent(m, "pseudoQueries", pseudoQueries == null ? null : pseudoQueries.toMap());
    putIfPresent(m, "negatives", negatives == null ? null : negatives.toMap());
    return m;
  }

  /**
   * Reads a {@code training.data} section as the manifest's JSON parser gives it (numbers as {@link Number},
   * sections as maps).
   *
   * @throws BundleException if a known key holds a value of the wrong type (a string for a count, a fraction for
   *     an integer), or a nested section lacks a field it always has
   */
  public static TrainingWindow fromMap(Map<?, ?> m) {
    Map<?, ?> pseudo = section(m, "pseudoQueries");
    Map<?, ?> negatives = section(m, "negatives");
    return new TrainingWindow(string(m, "source", "source"), string(m, "dataset", "dataset"),
        string(m, "split", "split"), integer(m, "queries", "queries"), bool(m, "judgedTraining"),
        integer(m, "heldOutQueries", "heldOutQueries"), string(m, "heldOutKind", "heldOutKind"),
        pseudo == null ? null : PseudoQueries.fromMap(pseudo), negatives == null ? null : Negatives.fromMap(negatives));
  }

  /**
   * The window of a manifest's training section ({@link Manifest#training()}): empty when there is none (version
   * 0, a bundle trained otherwise).
   *
   * @throws BundleException as {@link #fromMap} does, or if {@code training.data} is not an object
   */
  public static Optional<TrainingWindow> in(Map<String, Object> training) {
    if (training == null || training.get(KEY) == null) {
      return Optional.empty();
    }
    if (!(training.get(KEY) instanceof Map<?, ?> data)) {
      throw new BundleException("manifest training.data must be an object: " + training.get(KEY));
    }
    return Optional.of(fromMap(data));
  }

  /**
   * The seed of the run that drew a window ({@code training.trainer.seed}): it drew the held-out queries and the
   * pseudo-queries as well as seeding the trainer, so a window's held-out slice is drawn again with it. Empty when
   * the training section records none.
   *
   * @throws BundleException if {@code training.trainer} is not an object or its seed not an integer
   */
  public static OptionalLong seedIn(Map<String, Object> training) {
    if (training == null || training.get("trainer") == null) {
      return OptionalLong.empty();
    }
    if (!(training.get("trainer") instanceof Map<?, ?> trainer)) {
      throw new BundleException("manifest training.trainer must be an object: " + training.get("trainer"));
    }
    Object seed = trainer.get("seed");
    if (seed == null) {
      return OptionalLong.empty();
    }
    OptionalLong value = integral(seed);
    if (value.isEmpty()) {
      throw new BundleException("manifest training.trainer.seed must be an integer: " + seed);
    }
    return value;
  }

  private static void putIfPresent(Map<String, Object> m, String key, Object value) {
    if (value != null) {
      m.put(key, value);
    }
  }

  private static Map<?, ?> section(Map<?, ?> m, String key) {
    return switch (m.get(key)) {
      case null -> null;
      case Map<?, ?> section -> section;
      case Object v -> throw new BundleException("manifest training.data." + key + " must be an object: " + v);
    };
  }

  private static String string(Map<?, ?> m, String path, String key) {
    return switch (m.get(key)) {
      case null -> null;
      case String s -> s;
      case Object v -> throw new BundleException("manifest training.data." + path + " must be a string: " + v);
    };
  }

  private static String requireString(Map<?, ?> m, String path, String key) {
    String v = string(m, path, key);
    if (v == null) {
      throw new BundleException("manifest training.data." + path + " is missing");
    }
    return v;
  }

  private static Boolean bool(Map<?, ?> m, String key) {
    return switch (m.get(key)) {
      case null -> null;
      case Boolean b -> b;
      case Object v -> throw new BundleException("manifest training.data." + key + " must be true or false: " + v);
    };
  }

  private static Integer integer(Map<?, ?> m, String path, String key) {
    Object v = m.get(key);
    if (v == null) {
      return null;
    }
    OptionalLong n = integral(v);
    if (n.isEmpty() || n.getAsLong() != (int) n.getAsLong()) {
      throw new BundleException("manifest training.data." + path + " must be an integer: " + v);
    }
    return (int) n.getAsLong();
  }

  private static int requireInteger(Map<?, ?> m, String path, String key) {
    Integer v = integer(m, path, key);
    if (v == null) {
      throw new BundleException("manifest training.data." + path + " is missing");
    }
    return v;
  }

  /** The value of an integer JSON number (Jackson reads one as Integer, Long or BigInteger, a fraction as Double). */
  private static OptionalLong integral(Object v) {
    return switch (v) {
      case Integer i -> OptionalLong.of(i);
      case Long l -> OptionalLong.of(l);
      case Short s -> OptionalLong.of(s);
      case Byte b -> OptionalLong.of(b);
      case java.math.BigInteger b when b.bitLength() < 64 -> OptionalLong.of(b.longValue());
      default -> OptionalLong.empty();
    };
  }
}
