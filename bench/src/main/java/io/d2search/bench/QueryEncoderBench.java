package io.d2search.bench;

import io.d2search.embed.Embedder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Query encoding, one query at a time as the query service encodes it, with two encoders in the same run: the
 * baseline (the bundle's float graph) and a candidate (its int8 graph). Queries alternate between the two, so both
 * see the same machine; the table also gives how close the candidate's vectors are to the baseline's.
 */
public final class QueryEncoderBench {

  /**
   * One encoder's figures.
   *
   * @param backbone the encoder's backbone graph
   * @param p50 median ms per query
   * @param p99 99th percentile ms per query
   * @param mean mean ms per query
   */
  public record Row(String backbone, double p50, double p99, double mean) {}

  /**
   * The run's result.
   *
   * @param queries queries measured (each by both encoders)
   * @param baseline the baseline encoder's row
   * @param candidate the candidate's row
   * @param meanCosine mean cosine between the two encoders' vectors of a query
   * @param minCosine the smallest
   */
  public record Report(int queries, Row baseline, Row candidate, double meanCosine, double minCosine) {
    /** One Markdown table, the candidate's times as ratios to the baseline's. */
    public String markdown() {
      StringBuilder t = new StringBuilder(String.format(Locale.ROOT,
          "| query encoder (%d queries, one at a time) | p50 ms | p99 ms | mean ms | mean vs baseline |%n"
              + "|---|---|---|---|---|%n", queries));
      for (Row r : List.of(baseline, candidate)) {
        t.append(String.format(Locale.ROOT, "| %s%s | %.2f | %.2f | %.2f | %.2f× |%n", r.backbone(),
            r == baseline ? " (baseline)" : "", r.p50(), r.p99(), r.mean(), r.mean() / baseline.mean()));
      }
      t.append(String.format(Locale.ROOT, "%ncosine(candidate, baseline) of a query's vector: mean %.4f, min %.4f%n",
          meanCosine, minCosine));
      return t.toString();
    }
  }

  private final Embedder baseline;
  private final Embedder candidate;

  public QueryEncoderBench(Embedder baseline, Embedder candidate) {
    this.baseline = Objects.requireNonNull(baseline, "baseline");
    this.candidate = Objects.requireNonNull(candidate, "candidate");
  }

  /**
   * Encodes every query with both (after {@code warmups} untimed rounds over the first queries), alternating which
   * goes first.
   */
  public Report run(List<String> queries, int warmups) {
    if (queries.isEmpty()) {
      throw new IllegalArgumentException("no queries");
    }
    for (int i = 0; i < warmups; i++) {
      String q = queries.get(i % queries.size());
      baseline.embed(q);
      candidate.embed(q);
    }
    Embedder[] encoders = {baseline, candidate};
    long[][] nanos = new long[2][queries.size()];
    List<Double> cosines = new ArrayList<>();
    for (int i = 0; i < queries.size(); i++) {
      String q = queries.get(i);
      float[][] vectors = new float[2][];
      for (int k = 0; k < 2; k++) {
        int e = (i + k) % 2; // even queries: the baseline first; odd: the candidate first
        long start = System.nanoTime();
        vectors[e] = encoders[e].embed(q);
        nanos[e][i] = System.nanoTime() - start;
      }
      cosines.add((double) org.apache.lucene.util.VectorUtil.cosine(vectors[0], vectors[1]));
    }
    return new Report(queries.size(), row(baseline, nanos[0]), row(candidate, nanos[1]),
        cosines.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN),
        cosines.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
  }

  private static Row row(Embedder e, long[] nanos) {
    Percentiles p = Percentiles.of(nanos);
    return new Row(e.info().backboneId(), Percentiles.millis(p.p50()), Percentiles.millis(p.p99()),
        p.mean() / 1e6);
  }
}
