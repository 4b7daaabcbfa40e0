package io.d2search.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Corpus files as the demo, {@code ingest} and the lab read them: JSONL, one document a line, in BEIR's
 * {@code {_id, title, text, metadata}} or d2search's {@code {id, title, body, url, attributes}} format. Attributes
 * (or BEIR's metadata) are an object whose scalar members become the document's attributes, as text; members that are
 * objects or arrays are skipped. Blank lines are skipped; a line that is not JSON, or a document without an id, is an
 * error naming the file and line.
 */
public final class CorpusFile {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CorpusFile() {}

  /** Every document, by id, in file order (a later line with the same id replaces an earlier one). */
  public static Map<String, CorpusDocument> read(Path file) {
    Map<String, CorpusDocument> corpus = new LinkedHashMap<>();
    forEachDocument(file, d -> corpus.put(d.id(), d));
    return corpus;
  }

  /** Streams documents without holding the corpus in memory. */
  public static void forEachDocument(Path file, Consumer<CorpusDocument> action) {
    forEachJsonLine(file, n -> {
      String id = n.hasNonNull("_id") ? n.get("_id").asText() : n.path("id").asText(null);
      if (id == null || id.isEmpty()) {
        throw new IllegalArgumentException(file + ": a document has no _id or id: " + n);
      }
      String text = n.hasNonNull("text") ? n.get("text").asText() : n.path("body").asText("");
      action.accept(new CorpusDocument(id, n.path("title").asText(""), text, n.path("url").asText(null),
          attributes(n.has("attributes") ? n.get("attributes") : n.path("metadata"))));
    });
  }

  private static Map<String, String> attributes(JsonNode node) {
    Map<String, String> attributes = new LinkedHashMap<>();
    node.properties().forEach(e -> {
      if (e.getValue().isValueNode() && !e.getValue().isNull()) {
        attributes.put(e.getKey(), e.getValue().asText());
      }
    });
    return attributes;
  }

  /** Each non-blank line of a JSONL file, parsed. */
  public static void forEachJsonLine(Path file, Consumer<JsonNode> action) {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        try {
          action.accept(JSON.readTree(line));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new IllegalArgumentException(file + ":" + lineNo + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
