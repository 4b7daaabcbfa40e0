package io.d2search.ingest;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One document of a corpus file ({@link CorpusFile}), before it becomes a {@code DocumentEvent}.
 *
 * @param id non-null
 * @param title empty when the source has none
 * @param text the body
 * @param url may be null
 * @param attributes name → value, what search filters on; empty when the source has none; immutable
 */
public record CorpusDocument(String id, String title, String text, String url, Map<String, String> attributes) {
  public CorpusDocument {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(text, "text");
    attributes = Collections.unmodifiableMap(new TreeMap<>(attributes));
  }

  public CorpusDocument(String id, String title, String text, String url) {
    this(id, title, text, url, Map.of());
  }

  public CorpusDocument(String id, String title, String text) {
    this(id, title, text, null);
  }
}
