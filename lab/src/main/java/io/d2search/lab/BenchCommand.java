package io.d2search.lab;

import io.d2search.app.ConfigOptions;
import io.d2search.app.Components;
import io.d2search.bench.BenchPlot;
import io.d2search.bench.IndexBench;
import io.d2search.bench.PipelineBench;
import io.d2search.bench.TeacherBench;
import io.d2search.bundle.ModelBundle;
import io.d2search.data.BeirDataset;
import io.d2search.embed.Embedder;
import io.d2search.index.VectorEncoding;
import io.d2search.serve.SearchConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench}: the pipeline benchmark ({@link PipelineBench}); {@code bench teacher}: the teacher measurement;
 * {@code bench index}: the passage index at scale, per vector encoding ({@link IndexBench}); {@code bench heads}: the
 * model heads' JMH micro-benchmark ({@link io.d2search.bench.jmh.HeadsBench}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    subcommands = {BenchCommand.Teacher.class, BenchCommand.Index.class, BenchCommand.Heads.class,
        BenchCommand.QueryEncoder.class},
    description = "Measure embed throughput (bare ONNX vs the full broker pipeline), produce-to-searchable "
        + "freshness, search latency (in process and over HTTP) and HNSW recall vs exact search, in one run on "
        + "this machine; prints one Markdown table.")
final class BenchCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--corpus", paramLabel = "PATH",
      description = "JSONL documents: a BEIR corpus.jsonl or {id,title,body,url} lines (default: "
          + "<lab.data-dir>/scifact/corpus.jsonl when it exists, else the sample corpus bundled with d2search).")
  Path corpus;

  @Option(names = "--docs", paramLabel = "N", defaultValue = "300",
      description = "Use the first N documents of the corpus (default: ${DEFAULT-VALUE}).")
  int docs;

  @Option(names = "--queries", paramLabel = "PATH",
      description = "Queries: a BEIR queries.jsonl ({_id,text} lines) or plain text, one query a line (default: "
          + "queries.jsonl next to the corpus when it exists, else the document titles).")
  Path queries;

  @Option(names = "--query-count", paramLabel = "N", defaultValue = "200",
      description = "Use the first N queries (default: ${DEFAULT-VALUE}).")
  int queryCount;

  @Option(names = "--fresh-docs", paramLabel = "N", defaultValue = "20",
      description = "New documents produced one at a time to measure produce-to-searchable latency "
          + "(default: ${DEFAULT-VALUE}).")
  int freshDocs;

  @Option(names = "--full-release", paramLabel = "DIR",
      description = "Finally release this model bundle directory (other passage vectors than model.version's: another "
          + "PMA head) as a FULL release and measure the re-embedding and switch, with freshness and search latency "
          + "while it runs against their idle values.")
  Path fullRelease;

  @Option(names = "--burst-docs", paramLabel = "N", defaultValue = "0",
      description = "After the latency steps, produce N new documents as a burst at --burst-factor times the "
          + "pipeline's measured rate: lag, memory and drain time, then freshness again (default: ${DEFAULT-VALUE}, "
          + "no burst).")
  int burstDocs;

  @Option(names = "--burst-factor", paramLabel = "X", defaultValue = "10",
      description = "The burst's rate as a multiple of the pipeline's rate measured in the same run (default: "
          + "${DEFAULT-VALUE}).")
  double burstFactor;

  @Option(names = "--plot", paramLabel = "FILE.png",
      description = "Also draw search latency p50 and p99 per retrieval mode (in process) and over HTTP as a PNG.")
  Path plot;

  @Override
  public Integer call() throws Exception {
    PipelineBench.Plan plan = new PipelineBench.Plan(corpus, docs, queries, queryCount, freshDocs, fullRelease,
        burstDocs, burstFactor);
    PipelineBench.Report report = new PipelineBench(plan, config.settings()).run();
    System.out.println();
    System.out.println(report.markdown());
    if (plot != null) {
      BenchPlot.write(report.latencyMs(), "d2search bench: search latency (" + docs + " documents, " + queryCount
          + " queries)", plot);
      System.out.println("plot written to " + plot);
    }
    return 0;
  }

  /** {@code bench teacher}: fits the ensemble teacher on one split of a BEIR set and measures it on another. */
  @Command(name = "teacher", mixinStandardHelpOptions = true,
      description = "Fit the offline ensemble teacher's fusion weights and calibration on a BEIR train split and "
          + "measure its re-ranking of the MiniLM top-k on the test split (nothing tuned on test).")
  static final class Teacher implements Callable<Integer> {
    @Mixin ConfigOptions config;

    @Option(names = "--data", paramLabel = "DIR",
        description = "BEIR dataset directory (default: <lab.data-dir>/scifact).")
    Path data;

    @Option(names = "--cache", paramLabel = "DIR",
        description = "Where corpus vectors are cached (default: <data.dir>/cache/teacher-bench).")
    Path cache;

    @Option(names = "--depth", paramLabel = "N", defaultValue = "100",
        description = "Candidates per query (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
        description = "ONNX Runtime intra-op threads, 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--fit-split", paramLabel = "NAME", defaultValue = "train",
        description = "Split the weights are fitted on (default: ${DEFAULT-VALUE}).")
    String fitSplit;

    @Option(names = "--eval-split", paramLabel = "NAME", defaultValue = "test",
        description = "Split they are measured on (default: ${DEFAULT-VALUE}).")
    String evalSplit;

    @Override
    public Integer call() throws Exception {
      var settings = config.settings();
      Path dataDir = data != null ? data : Path.of(settings.string("lab.data-dir")).resolve("scifact");
      Path cacheDir = cache != null ? cache : Path.of(settings.string("data.dir")).resolve("cache/teacher-bench");
      new TeacherBench(new TeacherBench.Plan(dataDir, cacheDir, depth, threads, fitSplit, evalSplit), System.out)
          .run();
      return 0;
    }
  }

  /** {@code bench heads}: JMH over the IEM's kernels and the PMA. */
  @Command(name = "heads", mixinStandardHelpOptions = true,
      description = "JMH micro-benchmark of the heads that run in Java: the IEM re-ranking one query's 100 candidates "
          + "with each matrix kernel (scalar loops, Lucene's SIMD dot products, the register-blocked Panama kernel), "
          + "and the PMA pooling a text of 16 and 256 tokens; prints one Markdown table with each kernel's speed-up "
          + "over the others from the same run.")
  static final class Heads implements Callable<Integer> {
    @Option(names = "--forks", defaultValue = "1", description = "JVM forks per benchmark (default: ${DEFAULT-VALUE}).")
    int forks;

    @Option(names = "--warmups", defaultValue = "3",
        description = "Warm-up iterations of one second (default: ${DEFAULT-VALUE}).")
    int warmups;

    @Option(names = "--iterations", defaultValue = "5",
        description = "Measured iterations of one second (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Override
    public Integer call() throws Exception {
      var figures = io.d2search.bench.jmh.HeadsBench.run(
          new io.d2search.bench.jmh.HeadsBench.Settings(forks, warmups, iterations, true));
      System.out.println();
      System.out.print(io.d2search.bench.jmh.HeadsBench.table(figures));
      return 0;
    }
  }

  /** {@code bench query-encoder}: the float and the int8 query encoders side by side. */
  @Command(name = "query-encoder", mixinStandardHelpOptions = true,
      description = "Encode SciFact's test queries one at a time, as the query service does, with model.version's "
          + "bundle on its float backbone (the baseline) and on the int8-quantized graph (search.query-encoder=int8), "
          + "alternating; prints p50/p99/mean ms of each, the ratio, and how close the int8 vectors are. The int8 "
          + "encoder's ranking quality comes from eval (D2SEARCH_SEARCH_QUERY_ENCODER=int8).")
  static final class QueryEncoder implements Callable<Integer> {
    @Mixin ConfigOptions config;

    @Option(names = "--warmups", defaultValue = "50",
        description = "Untimed queries through each encoder first (default: ${DEFAULT-VALUE}).")
    int warmups;

    @Override
    public Integer call() {
      var settings = config.settings();
      Path scifact = Path.of(settings.string("lab.data-dir")).resolve("scifact");
      if (!Files.isRegularFile(scifact.resolve("queries.jsonl"))) {
        System.err.println("bench query-encoder needs SciFact's queries: none in " + scifact + " (lab.data-dir)");
        return 2;
      }
      List<String> queries = List.copyOf(BeirDataset.load(scifact, "test").queries().values());
      ModelBundle bundle = Components.serviceBundle(settings);
      var int8Graph = bundle.backbone().int8Variant();
      if (int8Graph.isEmpty()) {
        System.err.println("model.version " + bundle.version() + "'s backbone (" + bundle.backbone().id()
            + ") has no int8 graph");
        return 2;
      }
      var fp32 = Components.embedder(settings);
      try (Embedder baseline = bundle.embedder(fp32);
          Embedder int8 = bundle.embedder(fp32.withBackbone(int8Graph.get()))) {
        System.out.print(new io.d2search.bench.QueryEncoderBench(baseline, int8).run(queries, warmups).markdown());
      }
      return 0;
    }
  }

  /** {@code bench index}: one index per vector encoding, at a size, side by side. */
  @Command(name = "index", mixinStandardHelpOptions = true,
      description = "Fill a passage index per vector encoding with synthetic clustered vectors and measure indexing "
          + "throughput, size on disk, the bytes searches keep in memory, heap, search latency by step (HNSW, "
          + "vectors, IEM, stored fields) and recall@k against exact search, before and after churn; prints one "
          + "Markdown table with ratios to float32 from the same run.")
  static final class Index implements Callable<Integer> {
    @Mixin ConfigOptions config;

    @Option(names = "--passages", paramLabel = "N", defaultValue = "100000",
        description = "Passages in each index (default: ${DEFAULT-VALUE}).")
    int passages;

    @Option(names = "--dimension", paramLabel = "D", defaultValue = "384",
        description = "Vector length (default: ${DEFAULT-VALUE}, as all-MiniLM-L6-v2).")
    int dimension;

    @Option(names = "--topic-size", paramLabel = "N", defaultValue = "1000",
        description = "Passages per topic of the synthetic vectors, on average: a query's nearest passages are near-ties "
            + "among its topic's, so larger topics make the graph's job harder (default: ${DEFAULT-VALUE}, which puts "
            + "float32 HNSW recall@10 at 10^5 passages near what published runs on real text embeddings report).")
    int topicSize;

    @Option(names = "--queries", paramLabel = "N", defaultValue = "1000",
        description = "Measured queries per index (default: ${DEFAULT-VALUE}).")
    int queries;

    @Option(names = "--encodings", paramLabel = "LIST", split = ",",
        defaultValue = "float32,int8,int7,int4,int2,bbq",
        description = "Vector encodings to compare (default: ${DEFAULT-VALUE}).")
    List<String> encodings;

    @Option(names = "--oversample", paramLabel = "X",
        description = "Oversampling of the quantized searches (default: the index.vectors.oversample setting).")
    Double oversample;

    @Option(names = "--churn", paramLabel = "FRACTION", defaultValue = "0.1",
        description = "Share of passages updated, and the same share deleted, before the second recall "
            + "(default: ${DEFAULT-VALUE}).")
    double churn;

    @Option(names = "--k", defaultValue = "10", description = "Results kept, recall@k (default: ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--dir", paramLabel = "DIR",
        description = "Where the indexes are written, one at a time (default: <data.dir>/bench-index).")
    Path dir;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the vectors (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--serve", defaultValue = "true", negatable = true, fallbackValue = "true",
        description = "Also measure the serving path over each index: SearchService in process and POST /search over "
            + "HTTP, with model.version's query embedder (search.query-encoder) and SciFact's test queries (<lab.data-dir>/scifact) "
            + "(default: ${DEFAULT-VALUE}; skipped when SciFact is not there).")
    boolean serve;

    @Override
    public Integer call() {
      var settings = config.settings();
      var index = Components.queryService(settings).index();
      Path scifact = Path.of(settings.string("lab.data-dir")).resolve("scifact");
      boolean serving = serve && Files.isRegularFile(scifact.resolve("queries.jsonl"));
      if (serve && !serving) {
        System.out.println("no SciFact queries in " + scifact + ": the serving path is not measured");
      }
      IndexBench.Plan plan = new IndexBench.Plan(passages, dimension, topicSize, queries,
          encodings.stream().map(VectorEncoding::parse).distinct().toList(),
          oversample != null ? oversample : index.oversample(), churn, k, settings.integer("search.rerank-depth"),
          512, index, dir != null ? dir : Components.dataDir(settings).resolve("bench-index"), seed);
      IndexBench.Report report;
      if (serving) {
        List<String> queryTexts = List.copyOf(BeirDataset.load(scifact, "test").queries().values());
        ModelBundle bundle = Components.serviceBundle(settings);
        try (Embedder embedder = Components.queryEmbedder(settings, bundle)) {
          report = new IndexBench(plan, new IndexBench.Serving(embedder, queryTexts.subList(0,
              Math.min(queries, queryTexts.size())), SearchConfig.of(settings))).run();
        }
      } else {
        report = new IndexBench(plan).run();
      }
      System.out.println();
      System.out.println(report.markdown());
      return 0;
    }
  }
}
