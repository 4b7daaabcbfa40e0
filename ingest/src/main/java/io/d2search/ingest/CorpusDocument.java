package io.d2search.ingest;

import java.util.Objects;

/**
 * One document of a corpus file ({@link CorpusFile}), before it becomes a {@code DocumentEvent}.
 *
 * @param id non-null
 * @param title empty when the source has none
 * @param text the body
 * @param url may be null
 */
public record CorpusDocument(String id, String title, String text, String url) {
  public CorpusDocument {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(text, "text");
  }

  public CorpusDocument(String id, String title, String text) {
    this(id, title, text, null);
  }
}
