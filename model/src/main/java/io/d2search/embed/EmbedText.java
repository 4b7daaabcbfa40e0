package io.d2search.embed;

/** The exact text a passage or document is embedded as, the same at index time, in evaluation and in training. */
public final class EmbedText {
  private EmbedText() {}

  /** {@code title + " " + text} as BEIR and sentence-transformers do; just the text when there is no title. */
  public static String of(String title, String text) {
    if (title == null || title.isBlank()) {
      return text;
    }
    return title.strip() + " " + text;
  }
}
