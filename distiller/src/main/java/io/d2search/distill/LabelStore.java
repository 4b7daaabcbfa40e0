package io.d2search.distill;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The labelled candidate lists of one labelling set-up (parent bundle, teacher, K, corpus), kept on disk so that a
 * second {@code distill} with other training settings mines and asks the teacher nothing: labelling SciFact train
 * plus every title takes ~15 minutes on 2 cores, training settings are what one varies.
 *
 * <p>A JSON-lines file, one query per line, appended and flushed as each query is labelled, so a run stopped half
 * way keeps what it labelled. A torn last line (a crash mid-write) is cut off on open, with a warning. The caller
 * names the file after the set-up (the app's {@code distill} hashes parent, HNSW parameters, K, teacher and corpus):
 * a list is only valid for the parent index it was mined from and the teacher that scored it.
 *
 * <p>Not thread-safe.
 */
public final class LabelStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LabelStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One query's labelled list.
   *
   * @param text the query
   * @param positives its positives (in the corpus), in order
   * @param negatives its mined hard negatives, best first
   * @param scores the teacher's score of each candidate, positives then negatives
   * @param features the teacher's features of each candidate, in the same order; null for a teacher without
   */
  public record Entry(String text, List<String> positives, List<String> negatives, double[] scores,
      double[][] features) {
    public Entry {
      Objects.requireNonNull(text, "text");
      positives = List.copyOf(positives);
      negatives = List.copyOf(negatives);
      Objects.requireNonNull(scores, "scores");
      if (scores.length != positives.size() + negatives.size()
          || (features != null && features.length != scores.length)) {
        throw new IllegalArgumentException("one score (and feature vector) per candidate: " + scores.length + " for "
            + (positives.size() + negatives.size()));
      }
    }
  }

  private final Path file;
  private final Map<String, Entry> entries = new HashMap<>();
  private final BufferedWriter out;

  private LabelStore(Path file, BufferedWriter out) {
    this.file = file;
    this.out = out;
  }

  /** Opens (or creates) the store in {@code file}, reading what it holds. */
  public static LabelStore open(Path file) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      String content = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
      boolean torn = !content.isEmpty() && !content.endsWith("\n");
      List<String> lines = content.lines().toList();
      if (torn) {
        // Cut the torn line off, so that the next entry starts a line of its own and the file stays readable.
        log.warn("label store {}: dropping a torn last line ({} chars)", file, lines.getLast().length());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
          ch.truncate(content.substring(0, content.lastIndexOf('\n') + 1).getBytes(StandardCharsets.UTF_8).length);
        }
        lines = lines.subList(0, lines.size() - 1);
      }
      LabelStore store = new LabelStore(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND));
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).isBlank()) {
          continue;
        }
        try {
          Entry e = JSON.readValue(lines.get(i), Entry.class);
          store.entries.put(key(e.text(), e.positives()), e);
        } catch (JsonProcessingException | IllegalArgumentException e) {
          store.close();
          throw new IllegalStateException("label store " + file + " is corrupt at line " + (i + 1)
              + " (delete it to label again): " + e.getMessage(), e);
        }
      }
      return store;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot open label store " + file, e);
    }
  }

  /** The stored list of this query with these positives, or null. */
  public Entry get(String text, List<String> positives) {
    return entries.get(key(text, positives));
  }

  /** Stores and appends the entry (durable against a crash of this process once it returns). */
  public void put(Entry e) {
    entries.put(key(e.text(), e.positives()), e);
    try {
      out.write(JSON.writeValueAsString(e));
      out.newLine();
      out.flush();
    } catch (IOException ex) {
      throw new UncheckedIOException("Cannot append to label store " + file, ex);
    }
  }

  /** Queries stored. */
  public int size() {
    return entries.size();
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot close label store " + file, e);
    }
  }

  private static String key(String text, List<String> positives) {
    return text + '\0' + String.join("\0", positives);
  }
}
