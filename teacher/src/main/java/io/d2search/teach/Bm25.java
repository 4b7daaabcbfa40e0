package io.d2search.teach;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * BM25 over given candidate passages, with Lucene's English analyzer (stop words, possessives, Porter stemming)
 * and Lucene's {@code BM25Similarity} formula ({@code k1 = 1.2}, {@code b = 0.75}):
 * {@code Σ_{t ∈ query} idf(t) · tf / (tf + k1 · (1 − b + b · len / avgLen))}, {@code idf(t) = ln(1 + (N − df + 0.5)
 * / (df + 0.5))}, a query term counted once per occurrence in the query (as Lucene's {@code QueryBuilder} makes one
 * clause per token).
 *
 * <p>Why not a Lucene index: a teacher is asked about a handful of candidates at a time, not the whole corpus.
 * The collection statistics ({@code N}, {@code df}, {@code avgLen}) come from a corpus given once
 * ({@link #statistics}); then a candidate's score does not depend on the other candidates, and it equals what the
 * eval module's {@code Bm25Retriever} computes over that corpus, except that lengths are exact here where Lucene
 * stores them in one byte (a lossy norm). Without corpus statistics they are taken from the candidates of each
 * call (a weaker, set-dependent idf).
 *
 * <p>Thread-safe (Lucene analyzers reuse token streams per thread). {@link #close()} closes the analyzer.
 */
public final class Bm25 implements AutoCloseable {
  public static final double K1 = 1.2;
  public static final double B = 0.75;

  private final Analyzer analyzer = new EnglishAnalyzer();
  private final Stats stats;

  /**
   * Collection statistics.
   *
   * @param documents number of documents N
   * @param averageLength mean analyzed length (tokens)
   * @param documentFrequencies analyzed term → number of documents containing it; unmodifiable
   * @param fingerprint SHA-256 (hex, 16 chars) of the statistics, for teacher ids
   */
  public record Stats(long documents, double averageLength, Map<String, Integer> documentFrequencies,
      String fingerprint) {
    public Stats {
      Objects.requireNonNull(documentFrequencies, "documentFrequencies");
      Objects.requireNonNull(fingerprint, "fingerprint");
      if (documents < 1 || !(averageLength > 0)) {
        throw new IllegalArgumentException("need at least one non-empty document: " + documents + ", "
            + averageLength);
      }
    }

    int df(String term) {
      return documentFrequencies.getOrDefault(term, 0);
    }
  }

  /** @param stats corpus statistics, or null to take them from the candidates of each call */
  public Bm25(Stats stats) {
    this.stats = stats;
  }

  /** The corpus statistics in use, or null when they come from each call's candidates. */
  public Stats stats() {
    return stats;
  }

  /** Collection statistics of a corpus, analyzed as {@link #score} analyzes candidates. */
  public static Stats statistics(Iterable<String> corpus) {
    try (Bm25 bm25 = new Bm25(null)) {
      Map<String, Integer> df = new HashMap<>();
      long docs = 0;
      long tokens = 0;
      for (String text : corpus) {
        List<String> terms = bm25.analyze(text);
        docs++;
        tokens += terms.size();
        for (String t : new HashSet<>(terms)) {
          df.merge(t, 1, Integer::sum);
        }
      }
      return new Stats(docs, docs == 0 ? 0 : (double) tokens / docs, Collections.unmodifiableMap(df),
          fingerprint(docs, tokens, df));
    }
  }

  /**
   * BM25 of each passage for the query.
   *
   * @return a new array, one non-negative score per passage, in input order
   */
  public double[] score(String query, List<String> passages) {
    List<String> queryTerms = analyze(query);
    List<Map<String, Integer>> tfs = new ArrayList<>(passages.size());
    int[] lengths = new int[passages.size()];
    for (int i = 0; i < passages.size(); i++) {
      List<String> terms = analyze(passages.get(i));
      lengths[i] = terms.size();
      Map<String, Integer> tf = new HashMap<>();
      for (String t : terms) {
        tf.merge(t, 1, Integer::sum);
      }
      tfs.add(tf);
    }
    Stats s = stats != null ? stats : local(tfs, lengths);
    double[] out = new double[passages.size()];
    if (s == null) {
      return out; // no candidate has a token
    }
    for (String term : queryTerms) {
      int df = s.df(term);
      double idf = Math.log(1 + (s.documents() - df + 0.5) / (df + 0.5));
      for (int i = 0; i < out.length; i++) {
        Integer tf = tfs.get(i).get(term);
        if (tf != null) {
          double norm = K1 * (1 - B + B * lengths[i] / s.averageLength());
          out[i] += idf * tf / (tf + norm);
        }
      }
    }
    return out;
  }

  /**
   * The sum of the query tokens' idf: no passage can score more (each term contributes at most its idf), so
   * {@code score / idfMass} lies in {@code [0, 1)} for any query. Without corpus statistics the idf comes from the
   * passages, as in {@link #score}. 0 when the query has no token.
   */
  public double idfMass(String query, List<String> passages) {
    Stats s = stats;
    if (s == null) {
      List<Map<String, Integer>> tfs = new ArrayList<>(passages.size());
      int[] lengths = new int[passages.size()];
      for (int i = 0; i < passages.size(); i++) {
        List<String> terms = analyze(passages.get(i));
        lengths[i] = terms.size();
        Map<String, Integer> tf = new HashMap<>();
        terms.forEach(t -> tf.merge(t, 1, Integer::sum));
        tfs.add(tf);
      }
      s = local(tfs, lengths);
      if (s == null) {
        return 0;
      }
    }
    double mass = 0;
    for (String term : analyze(query)) {
      int df = s.df(term);
      mass += Math.log(1 + (s.documents() - df + 0.5) / (df + 0.5));
    }
    return mass;
  }

  private static Stats local(List<Map<String, Integer>> tfs, int[] lengths) {
    long tokens = 0;
    Map<String, Integer> df = new HashMap<>();
    for (int i = 0; i < lengths.length; i++) {
      tokens += lengths[i];
      tfs.get(i).keySet().forEach(t -> df.merge(t, 1, Integer::sum));
    }
    return tokens == 0 ? null : new Stats(lengths.length, (double) tokens / lengths.length, df, "candidates");
  }

  /** The analyzed tokens of a text, in order. */
  public List<String> analyze(String text) {
    List<String> out = new ArrayList<>();
    try (TokenStream ts = analyzer.tokenStream("body", text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        out.add(term.toString());
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  private static String fingerprint(long docs, long tokens, Map<String, Integer> df) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update((docs + "|" + tokens + "|").getBytes(StandardCharsets.UTF_8));
      for (Map.Entry<String, Integer> e : new TreeMap<>(df).entrySet()) {
        sha.update((e.getKey() + "\t" + e.getValue() + "\n").getBytes(StandardCharsets.UTF_8));
      }
      return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every JVM", e);
    }
  }

  @Override
  public void close() {
    analyzer.close();
  }
}
