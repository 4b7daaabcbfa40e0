package io.d2search.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2search.embed.Embedder;
import io.d2search.embed.TextHash;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.Hit;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import io.d2search.index.PassageSearcher;
import io.d2search.index.VectorEncoding;
import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import io.d2search.serve.HttpApi;
import io.d2search.serve.IssuedQueries;
import io.d2search.serve.SearchConfig;
import io.d2search.serve.SearchRequest;
import io.d2search.serve.SearchService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.lucene.util.IOUtils;
import org.apache.lucene.util.VectorUtil;

/**
 * The passage index at scale, one encoding after another in one run: for each {@link VectorEncoding}, a real
 * {@link PassageIndex} on disk is filled with {@code passages} synthetic clustered vectors ({@link ClusteredVectors}),
 * committed, and searched as the query service searches it: HNSW candidates to the re-rank depth, their vectors,
 * an IEM head's logits over them, the stored fields of the best k. Recall@k of the HNSW's own top k is measured
 * against exact search over the same floats, before and after churn (a share of the passages updated, as many
 * deleted, committed, then the merges Lucene's policy runs). Every figure is also given as a ratio to the float32
 * row of the same run.
 *
 * <p>Queries run on one thread, one after another, after a warm-up; latencies are per query, nearest-rank
 * percentiles. The IEM head has random weights of the contract's shape (its cost does not depend on their values).
 */
public final class IndexBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What to measure.
   *
   * @param passages index size
   * @param dimension vector length (384 as all-MiniLM-L6-v2)
   * @param topicSize passages per topic, on average
   * @param queries measured queries (after {@code queries / 10} warm-up ones)
   * @param encodings the encodings, each in an index of its own; float32 first when present (the baseline)
   * @param oversample the quantized searches' oversampling
   * @param churn the share of passages updated, and the same share deleted, before the second measurement
   * @param k the results kept (recall@k)
   * @param rerankDepth the HNSW candidates the IEM scores
   * @param iemHidden the IEM's hidden width
   * @param index the other index settings (HNSW M, beam width, ef-search)
   * @param workDir where the indexes are written (each deleted after its row)
   * @param seed the vectors' seed
   */
  public record Plan(int passages, int dimension, int topicSize, int queries, List<VectorEncoding> encodings,
      double oversample, double churn, int k, int rerankDepth, int iemHidden, IndexConfig index, Path workDir,
      long seed) {

    public Plan {
      encodings = List.copyOf(encodings);
      Objects.requireNonNull(index, "index");
      Objects.requireNonNull(workDir, "workDir");
      if (passages < 100 || dimension < 2 || topicSize < 1 || queries < 10 || encodings.isEmpty() || k < 1
          || rerankDepth < k || !(churn >= 0 && churn < 0.5) || iemHidden < 1) {
        throw new IllegalArgumentException("index bench plan out of range: " + this);
      }
    }
  }

  /**
   * The serving path over each index: a real {@link SearchService} (its query embedder, the random IEM over the top
   * {@code rerankDepth}, stored fields) in process, and the same over HTTP ({@link HttpApi}, {@code POST /search},
   * one client), with real query texts. The index is stamped with the embedder's version; impressions are off.
   *
   * @param embedder embeds the queries (and names the index's version); not closed here
   * @param queries query texts, searched in turn
   * @param search the search settings (mode, fusion)
   */
  public record Serving(Embedder embedder, List<String> queries, SearchConfig search) {
    public Serving {
      Objects.requireNonNull(embedder, "embedder");
      Objects.requireNonNull(search, "search");
      queries = List.copyOf(queries);
      if (queries.isEmpty()) {
        throw new IllegalArgumentException("no queries to serve");
      }
    }
  }

  /**
   * A row's serving figures.
   *
   * @param inProcess {@code SearchService.search} per query: embed, first stage, IEM re-rank, stored fields
   * @param overHttp {@code POST /search} per query, from a client in the same JVM
   * @param mode the searches' retrieval mode
   * @param stages where the in-process time went (ms per search, mean and median, the service's own stage timers)
   */
  public record Served(Latency inProcess, Latency overHttp, String mode, String stages) {
    double httpRatio() {
      return overHttp.p50() / inProcess.p50();
    }
  }

  /** Latency percentiles of one step, in ms. */
  public record Latency(double p50, double p99) {
    static Latency of(long[] nanos) {
      Percentiles p = Percentiles.of(nanos);
      return new Latency(Percentiles.millis(p.p50()), Percentiles.millis(p.p99()));
    }
  }

  /**
   * One encoding's figures.
   *
   * @param indexSeconds upserts and the commit
   * @param diskBytes the committed index directory
   * @param searchedBytes what a graph search reads for each visited node, the graph and the vectors it compares
   *     ({@link PassageIndex#vectorBytes()}): what must stay in the page cache for searches not to wait on the disk
   * @param heapBytes heap the open index holds (used heap after a full GC, minus before it was opened)
   * @param hnsw the HNSW step (to the re-rank depth), {@code vectors} reading their vectors, {@code iem} the
   *     IEM's logits over them, {@code stored} the best k's stored fields, {@code total} all four (no query
   *     encoding: the queries are synthetic vectors)
   * @param recall recall@k of the HNSW's top k against exact search
   * @param churnRecall the same after churn
   * @param churnHnsw the HNSW step after churn
   */
  public record Row(VectorEncoding encoding, double indexSeconds, long diskBytes, long searchedBytes, long heapBytes,
      int segments, Latency hnsw, Latency vectors, Latency iem, Latency stored, Latency total, double recall,
      double churnRecall, Latency churnHnsw, int churnSegments, Served served) {

    double passagesPerSecond(int passages) {
      return passages / indexSeconds;
    }
  }

  /** The run: its plan, exact search's latency over the same vectors (the scan baseline), and a row per encoding. */
  public record Report(Plan plan, Latency exact, List<Row> rows) {
    /** One Markdown table: each figure, then its ratio to the float32 row (the first row when there is none). */
    public String markdown() {
      Row base = rows.stream().filter(r -> r.encoding() == VectorEncoding.FLOAT32).findFirst().orElse(rows.get(0));
      StringBuilder out = new StringBuilder();
      out.append(String.format(Locale.ROOT, "%,d passages × %d dimensions (synthetic, clustered: ~%d a topic), "
          + "HNSW M %d, beam %d, ef-search %d, k %d, IEM over the top %d (hidden %d), %d queries; churn %.0f%% "
          + "updated + %.0f%% deleted. Exact scan over the floats: p50 %.2f ms, p99 %.2f ms. Ratios are to %s.%n%n",
          plan.passages(), plan.dimension(), plan.topicSize(), plan.index().hnswM(), plan.index().hnswBeamWidth(),
          plan.index().efSearch(), plan.k(), plan.rerankDepth(), plan.iemHidden(), plan.queries(),
          plan.churn() * 100, plan.churn() * 100, exact.p50(), exact.p99(), base.encoding()));
      out.append("| encoding | passages/s | disk MB | searched MB | heap MB | HNSW p50 / p99 ms | vectors p50 ms"
          + " | IEM p50 ms | stored p50 ms | total p50 / p99 ms | recall@").append(plan.k())
          .append(" | after churn: recall, HNSW p99 ms, segments |\n");
      out.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
      for (Row r : rows) {
        out.append(String.format(Locale.ROOT,
            "| %s | %,.0f (%s) | %.1f (%s) | %.1f (%s) | %.1f | %.2f / %.2f (%s) | %.2f | %.2f | %.2f | %.2f / %.2f"
                + " (%s) | %.4f | %.4f, %.2f, %d |%n",
            r.encoding(), r.passagesPerSecond(plan.passages()), ratio(r.passagesPerSecond(plan.passages()),
                base.passagesPerSecond(plan.passages())),
            mb(r.diskBytes()), ratio(r.diskBytes(), base.diskBytes()), mb(r.searchedBytes()),
            ratio(r.searchedBytes(), base.searchedBytes()), mb(r.heapBytes()), r.hnsw().p50(), r.hnsw().p99(),
            ratio(r.hnsw().p99(), base.hnsw().p99()), r.vectors().p50(), r.iem().p50(), r.stored().p50(),
            r.total().p50(), r.total().p99(), ratio(r.total().p99(), base.total().p99()), r.recall(),
            r.churnRecall(), r.churnHnsw().p99(), r.churnSegments()));
      }
      if (rows.stream().anyMatch(r -> r.served() != null)) {
        Row first = rows.stream().filter(r -> r.served() != null).findFirst().orElseThrow();
        out.append(String.format(Locale.ROOT, "%nServed (mode %s, k %d, IEM over the top %d, real query texts "
            + "embedded per search): in process, over HTTP, and HTTP/in-process p50.%n%n", first.served().mode(),
            plan.k(), plan.rerankDepth()));
        out.append("| encoding | in-process p50 / p99 ms | over HTTP p50 / p99 ms | HTTP/in-process p50 |\n");
        out.append("|---|---|---|---|\n");
        for (Row r : rows) {
          if (r.served() != null) {
            Served v = r.served();
            out.append(String.format(Locale.ROOT, "| %s | %.2f / %.2f (%s) | %.2f / %.2f (%s) | %.2f |%n",
                r.encoding(), v.inProcess().p50(), v.inProcess().p99(),
                ratio(v.inProcess().p99(), base.served() == null ? Double.NaN : base.served().inProcess().p99()),
                v.overHttp().p50(), v.overHttp().p99(),
                ratio(v.overHttp().p99(), base.served() == null ? Double.NaN : base.served().overHttp().p99()),
                v.httpRatio()));
          }
        }
        out.append(String.format(Locale.ROOT, "%nWhere a served search's time goes (%s, ms: mean, median): %s%n",
            first.encoding(), first.served().stages()));
      }
      return out.toString();
    }

    private static String ratio(double value, double baseline) {
      return String.format(Locale.ROOT, "×%.2f", value / baseline);
    }

    private static double mb(long bytes) {
      return bytes / (1024.0 * 1024.0);
    }
  }

  private final Plan plan;
  private final Serving serving;
  private final String version;
  private final ClusteredVectors generator;

  /** Measures the index alone. */
  public IndexBench(Plan plan) {
    this(plan, null);
  }

  /** Measures the index, and the serving path over it when {@code serving} is given. */
  public IndexBench(Plan plan, Serving serving) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.serving = serving;
    this.version = serving == null ? "bench" : serving.embedder().info().version();
    this.generator = new ClusteredVectors(plan.dimension(), Math.max(1, plan.passages() / plan.topicSize()),
        plan.seed());
  }

  /** Builds, measures and deletes one index per encoding. */
  public Report run() {
    int n = plan.passages();
    float[][] vectors = new float[n][];
    for (int i = 0; i < n; i++) {
      vectors[i] = generator.passage(i);
    }
    int warmup = Math.max(10, plan.queries() / 10);
    float[][] queries = new float[warmup + plan.queries()][];
    for (int j = 0; j < queries.length; j++) {
      queries[j] = generator.query(j);
    }
    // The churn: which passages change, and which go; the same for every encoding.
    Random random = new Random(plan.seed());
    int changed = (int) Math.round(n * plan.churn());
    int[] order = IntStream.range(0, n).toArray();
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    int[] updated = Arrays.copyOfRange(order, 0, changed);
    int[] deleted = Arrays.copyOfRange(order, changed, 2 * changed);
    float[][] churned = vectors.clone();
    for (int i : updated) {
      churned[i] = generator.replacement(i, 1);
    }
    for (int i : deleted) {
      churned[i] = null;
    }
    int[][] truth = exactTopK(vectors, queries, warmup);
    int[][] churnTruth = exactTopK(churned, queries, warmup);
    Latency exact = exactLatency(vectors, queries, warmup);
    IemHead iem = randomIem(plan.dimension(), plan.iemHidden(), plan.seed());

    List<VectorEncoding> encodings = new ArrayList<>(plan.encodings());
    encodings.sort(Comparator.comparing(e -> e != VectorEncoding.FLOAT32)); // the baseline first
    List<Row> rows = new ArrayList<>();
    for (VectorEncoding encoding : encodings) {
      rows.add(measure(encoding, vectors, queries, warmup, truth, updated, deleted, churned, churnTruth, iem));
    }
    return new Report(plan, exact, rows);
  }

  private Row measure(VectorEncoding encoding, float[][] vectors, float[][] queries, int warmup, int[][] truth,
      int[] updated, int[] deleted, float[][] churned, int[][] churnTruth, IemHead iem) {
    Path dir = plan.workDir().resolve("index-" + encoding.label());
    deleteRecursively(dir);
    IndexConfig config = plan.index().withVectors(encoding, plan.oversample());
    long heapBefore = usedHeapAfterGc();
    try (PassageIndex index = PassageIndex.open(dir, version, config)) {
      long started = System.nanoTime();
      try (ProgressBar bar = new ProgressBarBuilder().setTaskName("index " + encoding).setInitialMax(vectors.length)
          .setStyle(ProgressBarStyle.ASCII).setUnit(" passages", 1).setUpdateIntervalMillis(1000).showSpeed()
          .build()) {
        for (int i = 0; i < vectors.length; i++) {
          index.upsert(id(i), embedding(i, vectors[i]));
          bar.step();
        }
      }
      index.commit(Map.of());
      double seconds = (System.nanoTime() - started) / 1e9;
      index.refresh();
      long heap = Math.max(0, usedHeapAfterGc() - heapBefore);
      long disk = bytes(dir);
      Map<String, Long> vectorFiles = index.vectorBytes();
      long searched = vectorFiles.getOrDefault("vex", 0L)
          + vectorFiles.getOrDefault(encoding.quantized() ? "veq" : "vec", 0L);
      int segments = segments(dir);
      Steps steps = search(index, queries, warmup, truth, iem);
      Served served = serving == null ? null : serve(index, iem);

      for (int i : updated) {
        index.upsert(id(i), embedding(i, churned[i]));
      }
      for (int i : deleted) {
        index.delete(id(i));
      }
      index.commit(Map.of());
      index.refresh();
      Steps afterChurn = search(index, queries, warmup, churnTruth, iem);
      int churnSegments = segments(dir);
      Row row = new Row(encoding, seconds, disk, searched, heap, segments, steps.hnsw(), steps.vectors(),
          steps.iem(), steps.stored(), steps.total(), steps.recall(),
          afterChurn.recall(), afterChurn.hnsw(), churnSegments, served);
      System.out.printf(Locale.ROOT, "%s: %,.0f passages/s, %.1f MB on disk (vector files %s), HNSW p99 %.2f ms, "
          + "recall@%d %.4f (after churn %.4f)%n", encoding, row.passagesPerSecond(vectors.length),
          disk / 1048576.0, vectorFiles, row.hnsw().p99(), plan.k(), row.recall(), row.churnRecall());
      return row;
    } finally {
      deleteRecursively(dir);
    }
  }

  /** Per-step latencies of the served search path and the HNSW's recall, over the measured queries. */
  private record Steps(Latency hnsw, Latency vectors, Latency iem, Latency stored, Latency total, double recall) {}

  private Steps search(PassageIndex index, float[][] queries, int warmup, int[][] truth, IemHead iem) {
    int measured = queries.length - warmup;
    long[] hnsw = new long[measured];
    long[] vectorNanos = new long[measured];
    long[] iemNanos = new long[measured];
    long[] stored = new long[measured];
    long[] total = new long[measured];
    double recall = 0;
    for (int j = 0; j < queries.length; j++) {
      boolean measure = j >= warmup;
      long t0 = System.nanoTime();
      try (PassageSearcher searcher = index.searcher()) {
        List<PassageSearcher.Candidate> candidates = searcher.search(queries[j], plan.rerankDepth());
        long t1 = System.nanoTime();
        List<float[]> read = searcher.vectors(candidates);
        long t2 = System.nanoTime();
        iem.logits(queries[j], read, IemHead.Branch.ASYMMETRIC);
        long t3 = System.nanoTime();
        // The stored fields of k of them (which k the IEM picks does not change the cost): the HNSW's own top k,
        // whose ids recall is measured on.
        List<Hit> top = searcher.hits(candidates.subList(0, Math.min(plan.k(), candidates.size())));
        long t4 = System.nanoTime();
        if (measure) {
          int m = j - warmup;
          hnsw[m] = t1 - t0;
          vectorNanos[m] = t2 - t1;
          iemNanos[m] = t3 - t2;
          stored[m] = t4 - t3;
          total[m] = t4 - t0;
          Set<Integer> exact = new HashSet<>();
          for (int i : truth[m]) {
            exact.add(i);
          }
          int found = 0;
          for (Hit h : top) {
            if (exact.contains(number(h.passageId()))) {
              found++;
            }
          }
          recall += found / (double) truth[m].length;
        }
      }
    }
    return new Steps(Latency.of(hnsw), Latency.of(vectorNanos), Latency.of(iemNanos), Latency.of(stored),
        Latency.of(total), recall / measured);
  }

  /** Exact top k of each measured query over the live vectors (null: deleted), by dot product, on every core. */
  private int[][] exactTopK(float[][] vectors, float[][] queries, int warmup) {
    return IntStream.range(warmup, queries.length).parallel()
        .mapToObj(j -> exactTopK(vectors, queries[j], plan.k())).toArray(int[][]::new);
  }

  private static int[] exactTopK(float[][] vectors, float[] query, int k) {
    // A bounded min-heap of (score, index) would be faster; k is small and this runs once per query.
    int[] best = new int[k];
    float[] scores = new float[k];
    Arrays.fill(best, -1);
    Arrays.fill(scores, Float.NEGATIVE_INFINITY);
    for (int i = 0; i < vectors.length; i++) {
      float[] v = vectors[i];
      if (v == null) {
        continue;
      }
      float s = VectorUtil.dotProduct(v, query);
      if (s > scores[k - 1]) {
        int at = k - 1;
        while (at > 0 && scores[at - 1] < s) {
          scores[at] = scores[at - 1];
          best[at] = best[at - 1];
          at--;
        }
        scores[at] = s;
        best[at] = i;
      }
    }
    return Arrays.stream(best).filter(i -> i >= 0).toArray();
  }

  /** The latency of a single-threaded exact scan per query: what HNSW saves. */
  private Latency exactLatency(float[][] vectors, float[][] queries, int warmup) {
    int runs = Math.min(50, queries.length - warmup);
    long[] nanos = new long[runs];
    for (int j = 0; j < runs + 5; j++) {
      long t = System.nanoTime();
      exactTopK(vectors, queries[warmup + j % runs], plan.k());
      if (j >= 5) {
        nanos[j - 5] = System.nanoTime() - t;
      }
    }
    return Latency.of(nanos);
  }

  /** An IEM head of the contract's shape (interaction-only input, the default) with seeded random weights. */
  static IemHead randomIem(int dimension, int hidden, long seed) {
    Random random = new Random(seed);
    IemHead.Input input = IemHead.Input.INTERACTION_ONLY;
    return new IemHead(input, random(hidden, input.blocks() * dimension, random),
        random(hidden, hidden, random), random(hidden, hidden, random), random(1, hidden, random));
  }

  private static Linear random(int out, int in, Random random) {
    float[] w = new float[out * in];
    float scale = (float) (1 / Math.sqrt(in));
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) random.nextGaussian() * scale;
    }
    return Linear.of(out, in, w, new float[out]);
  }

  private static String id(int i) {
    return "p" + i + "#0";
  }

  private static int number(String passageId) {
    return Integer.parseInt(passageId.substring(1, passageId.indexOf('#')));
  }

  /** The serving path over this index, in process and over HTTP, with the serving's query texts. */
  private Served serve(PassageIndex index, IemHead iem) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    SearchService search = new SearchService(index, serving.embedder(), iem,
        serving.search().withRerankDepth(plan.rerankDepth()), registry, null,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
    HttpApi http = HttpApi.start("127.0.0.1", 0, search, null, registry);
    try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
      List<String> texts = serving.queries();
      int warmup = Math.max(10, texts.size() / 10);
      long[] local = new long[texts.size()];
      for (int j = -warmup; j < texts.size(); j++) {
        String q = texts.get(Math.floorMod(j, texts.size()));
        long t = System.nanoTime();
        search.search(SearchRequest.of(q, plan.k()));
        if (j >= 0) {
          local[j] = System.nanoTime() - t;
        }
      }
      String stages = PipelineBench.stageBreakdown(registry);
      URI uri = URI.create("http://127.0.0.1:" + http.port() + "/search");
      long[] remote = new long[texts.size()];
      for (int j = -warmup; j < texts.size(); j++) {
        String body = JSON.writeValueAsString(Map.of("query", texts.get(Math.floorMod(j, texts.size())),
            "k", plan.k()));
        HttpRequest request = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long t = System.nanoTime();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        if (j >= 0) {
          remote[j] = System.nanoTime() - t;
        }
        if (response.statusCode() != 200) {
          throw new IllegalStateException("POST /search answered " + response.statusCode() + ": "
              + response.body());
        }
      }
      return new Served(Latency.of(local), Latency.of(remote), serving.search().mode().label(), stages);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      http.close();
      search.close();
      registry.close();
    }
  }

  private PassageEmbedding embedding(int i, float[] vector) {
    List<Float> values = new ArrayList<>(vector.length);
    for (float x : vector) {
      values.add(x);
    }
    String text = "passage " + i;
    return PassageEmbedding.newBuilder().setDocId("p" + i).setN(0).setModelVersion(version).setVector(values)
        .setTextHash(TextHash.sha256(text)).setTitle("").setText(text).setDocVersion(1).build();
  }

  private static long bytes(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Segments of the last commit: one {@code .si} file each. */
  private static int segments(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return (int) files.filter(p -> p.getFileName().toString().endsWith(".si")).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 2; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static void deleteRecursively(Path dir) {
    try {
      IOUtils.rm(dir); // Lucene's: nothing to do when it does not exist
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
