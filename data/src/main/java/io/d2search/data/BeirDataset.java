package io.d2search.data;

import io.d2search.ingest.CorpusDocument;
import io.d2search.ingest.CorpusFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BEIR-format dataset: {@code corpus.jsonl} ({@code _id, title, text}), {@code queries.jsonl} ({@code _id, text})
 * and {@code qrels/<split>.tsv} ({@code query-id, corpus-id, score} with a header line).
 *
 * @param corpus documents in file order, by id
 * @param queries text of every query judged in the split, by id, in qrels order
 * @param qrels graded judgements: query id → (document id → relevance); relevance ≤ 0 means not relevant
 */
public record BeirDataset(Map<String, CorpusDocument> corpus, Map<String, String> queries,
    Map<String, Map<String, Integer>> qrels) {

  /** A dataset's name, as bundle manifests record it: its directory's name. */
  public static String name(Path dir) {
    return dir.toAbsolutePath().normalize().getFileName().toString();
  }

  /** Reads a dataset directory; only queries judged in {@code split} are kept. */
  public static BeirDataset load(Path dir, String split) {
    Path qrelsFile = dir.resolve("qrels").resolve(split + ".tsv");
    for (Path p : List.of(dir.resolve("corpus.jsonl"), dir.resolve("queries.jsonl"), qrelsFile)) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException("Not a BEIR dataset: missing " + p);
      }
    }
    Map<String, Map<String, Integer>> qrels = readQrels(qrelsFile);
    Map<String, String> allQueries = new HashMap<>();
    CorpusFile.forEachJsonLine(dir.resolve("queries.jsonl"), n -> allQueries.put(n.path("_id").asText(), n.path("text").asText()));
    Map<String, String> queries = new LinkedHashMap<>();
    for (String id : qrels.keySet()) {
      String text = allQueries.get(id);
      if (text == null) {
        throw new IllegalArgumentException("qrels name query " + id + " that is not in queries.jsonl");
      }
      queries.put(id, text);
    }
    Map<String, CorpusDocument> corpus = readCorpus(dir.resolve("corpus.jsonl"));
    return new BeirDataset(Collections.unmodifiableMap(corpus), Collections.unmodifiableMap(queries),
        Collections.unmodifiableMap(qrels));
  }

  /**
   * The part of this dataset whose queries are <em>unseen</em> by a model trained on {@code trainingQrels}: test
   * queries none of whose relevant documents is a positive (relevance > 0) of any training query. Heads trained
   * on judged data learn which documents tend to be relevant; this subset measures what generalises.
   */
  public BeirDataset unseenBy(Map<String, Map<String, Integer>> trainingQrels) {
    java.util.Set<String> trainingPositives = new java.util.HashSet<>();
    trainingQrels.values().forEach(j -> j.forEach((doc, rel) -> {
      if (rel > 0) {
        trainingPositives.add(doc);
      }
    }));
    return keeping(query -> qrels.get(query).entrySet().stream()
        .noneMatch(e -> e.getValue() > 0 && trainingPositives.contains(e.getKey())));
  }

  /**
   * The part of this dataset judged for {@code queryIds} (in this dataset's order), e.g. a held-out slice.
   *
   * @throws IllegalArgumentException if an id is not a judged query here
   */
  public BeirDataset restrictedTo(java.util.Collection<String> queryIds) {
    java.util.Set<String> wanted = new java.util.HashSet<>(queryIds);
    for (String id : wanted) {
      if (!qrels.containsKey(id)) {
        throw new IllegalArgumentException("query " + id + " is not judged in this split");
      }
    }
    return keeping(wanted::contains);
  }

  /** The same corpus with the judged queries {@code keep} accepts, in this dataset's order. */
  private BeirDataset keeping(java.util.function.Predicate<String> keep) {
    Map<String, String> keptQueries = new LinkedHashMap<>();
    Map<String, Map<String, Integer>> keptQrels = new LinkedHashMap<>();
    qrels.forEach((query, judged) -> {
      if (keep.test(query)) {
        keptQueries.put(query, queries.get(query));
        keptQrels.put(query, judged);
      }
    });
    return new BeirDataset(corpus, Collections.unmodifiableMap(keptQueries), Collections.unmodifiableMap(keptQrels));
  }

  /** Reads only the judgements of a split (e.g. the training qrels, to find which documents were positives). */
  public static Map<String, Map<String, Integer>> readQrels(Path file) {
    Map<String, Map<String, Integer>> qrels = new LinkedHashMap<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        String[] cols = line.split("\t");
        if (line.isBlank() || (lineNo == 1 && !cols[cols.length - 1].matches("-?\\d+"))) {
          continue; // header line "query-id corpus-id score"
        }
        if (cols.length < 3) {
          throw new IllegalArgumentException(file + ":" + lineNo + ": expected query-id, corpus-id, score");
        }
        qrels.computeIfAbsent(cols[0], k -> new LinkedHashMap<>()).put(cols[1], Integer.parseInt(cols[2].trim()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return qrels;
  }

  /** Reads a corpus file (either format); see {@link CorpusFile}. */
  public static Map<String, CorpusDocument> readCorpus(Path file) {
    return CorpusFile.read(file);
  }
}
