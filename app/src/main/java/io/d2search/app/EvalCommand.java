package io.d2search.app;

import io.d2search.bundle.ModelBundle;
import io.d2search.embed.Embedder;
import io.d2search.eval.BeirDataset;
import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.EvalRow;
import io.d2search.eval.Evaluation;
import io.d2search.eval.ExactDenseRetriever;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.eval.PassageVectors;
import io.d2search.eval.VectorCache;
import io.d2search.ingest.Chunker;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code eval}: retrieval quality on BEIR-format data, one table. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate BM25 and the bi-encoder (HNSW and exact) on BEIR-format data: nDCG@10, Recall@100, MRR@10.")
final class EvalCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
  Path beir;

  @Option(names = "--split", defaultValue = "test", description = "Qrels split to evaluate (default: ${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--whole-docs",
      description = "Embed each document whole (title + text, truncated at model.max-tokens) as BEIR does, "
          + "instead of chunking it into passages like the indexer.")
  boolean wholeDocs;

  @Option(names = "--cache-dir", paramLabel = "DIR",
      description = "Where corpus vectors are cached between runs (default: <data.dir>/cache/vectors).")
  Path cacheDir;

  @Option(names = "--no-cache", description = "Embed everything again; neither read nor write the vector cache.")
  boolean noCache;

  @Option(names = "--student", paramLabel = "VERSION",
      description = "Also evaluate the student of this model bundle (under setting model.bundles-dir; version 0, "
          + "PMA in its mean-pooling initialisation, is created when missing).")
  String student;

  /** HNSW and exact rows of one embedder over the passages, embedding them (or reading the cache) once. */
  private List<EvalRow> denseRows(String label, Embedder embedder, List<EvalPassage> passages, Path cachePath,
      String fingerprint, BeirDataset data, Settings settings) throws Exception {
    System.out.printf("embedding %d passages with %s on %s%n", passages.size(), label, embedder.info().provider());
    float[][] vectors;
    try (VectorCache cache = noCache ? null : VectorCache.open(cachePath, fingerprint, embedder.info().dimension())) {
      vectors = PassageVectors.embed(embedder, PassageVectors.texts(passages), cache, "embed corpus");
    }
    List<EvalRow> rows = new ArrayList<>();
    try (HnswDenseRetriever hnsw = HnswDenseRetriever.build(label + " HNSW", embedder, passages, vectors,
        settings.integer("index.hnsw.m"), settings.integer("index.hnsw.beam-width"))) {
      rows.add(Evaluation.run(hnsw, data.queries(), data.qrels()));
    }
    rows.add(Evaluation.run(new ExactDenseRetriever(label + " exact", embedder, passages, vectors),
        data.queries(), data.qrels()));
    return rows;
  }

  @Override
  public Integer call() throws Exception {
    Settings settings = config.settings();
    BeirDataset data = BeirDataset.load(beir, split);
    System.out.printf("%s (%s split): %d documents, %d queries, %s%n", beir.getFileName(), split,
        data.corpus().size(), data.queries().size(), wholeDocs ? "whole documents" : "chunked passages");
    Path cachePath = cacheDir != null ? cacheDir : settings.path("data.dir").resolve("cache").resolve("vectors");
    List<EvalRow> rows = new ArrayList<>();
    List<EvalPassage> passages;
    try (Embedder embedder = Embedder.create(Components.embedder(settings))) {
      passages = wholeDocs ? EvalPassage.wholeDocs(data)
          : EvalPassage.chunked(data, new Chunker(embedder.tokenizer(), Components.chunker(settings)));
      System.out.printf("%d passages%n", passages.size());
      try (Bm25Retriever bm25 = new Bm25Retriever(passages)) {
        rows.add(Evaluation.run(bm25, data.queries(), data.qrels()));
      }
      var info = embedder.info();
      rows.addAll(denseRows("bi-encoder (" + info.backboneId() + ", mean)", embedder, passages, cachePath,
          info.backboneSha256().substring(0, 16) + "-" + info.maxTokens() + "-mean", data, settings));
    }
    if (student != null) {
      ModelBundle bundle = Components.bundle(settings, student);
      try (Embedder embedder = bundle.embedder(Components.embedder(settings))) {
        rows.addAll(denseRows("student v" + bundle.version() + " (" + embedder.info().pooling() + ")", embedder,
            passages, cachePath, "bundle-" + bundle.checksum().substring(0, 16), data, settings));
      }
    }
    System.out.println();
    System.out.printf("%s, %s split, %d queries, %s%n", beir.getFileName(), split, data.queries().size(),
        wholeDocs ? "whole documents (title + text, " + settings.integer("model.max-tokens") + " tokens)"
            : "passages of " + settings.integer("chunk.max-tokens") + " tokens, documents scored by their best passage");
    System.out.print(Evaluation.table(rows));
    return 0;
  }
}
