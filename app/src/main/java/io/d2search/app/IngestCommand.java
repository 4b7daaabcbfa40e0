package io.d2search.app;

import io.d2search.config.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ingest}: send documents to a running d2search (its Kafka). */
@Command(name = "ingest", mixinStandardHelpOptions = true,
    description = "Send documents from a JSONL file (BEIR corpus.jsonl or {id,title,body,url}) to the documents "
        + "topic, or delete documents by id.")
public final class IngestCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--corpus", paramLabel = "PATH", description = "JSONL file of documents to upsert.")
  Path corpus;

  @Option(names = "--delete", paramLabel = "ID", split = ",", description = "Document ids to delete.")
  List<String> delete;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "Kafka to send to (default: setting kafka.bootstrap.servers).")
  String bootstrapServers;

  @Override
  public Integer call() {
    if (corpus == null && (delete == null || delete.isEmpty())) {
      throw new IllegalArgumentException("give --corpus PATH and/or --delete ID[,ID...]");
    }
    if (corpus != null && !Files.isRegularFile(corpus)) {
      throw new IllegalArgumentException("no such corpus file: " + corpus);
    }
    Settings s = config.settings().with("kafka.bootstrap.servers", bootstrapServers);
    String servers = s.string("kafka.bootstrap.servers");
    CorpusIngester.checkReachable(servers, s.kafkaClient());
    try (CorpusIngester ingester = new CorpusIngester(servers, s.kafkaClient())) {
      if (corpus != null) {
        long n = ingester.ingest(corpus);
        System.out.printf("sent %d documents from %s to %s%n", n, corpus, servers);
      }
      if (delete != null && !delete.isEmpty()) {
        ingester.delete(delete);
        System.out.printf("sent %d deletions to %s%n", delete.size(), servers);
      }
    }
    return 0;
  }
}
