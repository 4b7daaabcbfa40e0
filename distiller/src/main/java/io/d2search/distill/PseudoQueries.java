package io.d2search.distill;

import io.d2search.data.BeirDataset;
import io.d2search.ingest.CorpusDocument;
import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;
import java.util.Set;

/**
 * Pseudo-queries: queries made from randomly drawn corpus documents, trained on beside (or instead of) the judged
 * ones. They are not judgements: eval's unseen subset is derived from the judged split alone.
 *
 * @param count how many to draw; 0 for none
 * @param kind what a pseudo-query is
 * @param positive what its positive is
 */
public record PseudoQueries(int count, Kind kind, Positive positive) {

  /** What a pseudo-query is made of. */
  public enum Kind {
    /** The document's title (at least 8 characters, of a document with text). */
    TITLE("title", "document title"),
    /** The last sentence of its text of 8 to 40 words: an abstract's conclusion reads like a claim. */
    SENTENCE("sentence", "last sentence of 8-40 words");

    private final String id;
    private final String description;

    Kind(String id, String description) {
      this.id = id;
      this.description = description;
    }

    /** The name {@code distill --pseudo-query-kind} takes; it also prefixes the query ids ({@code id:docId}). */
    public String id() {
      return id;
    }

    /** How a manifest's {@code training.data.pseudoQueries.kind} describes it. */
    public String description() {
      return description;
    }

    /** @throws IllegalArgumentException if {@code id} names no kind */
    public static Kind fromId(String id) {
      for (Kind k : values()) {
        if (k.id.equals(id)) {
          return k;
        }
      }
      throw new IllegalArgumentException("--pseudo-query-kind must be title or sentence: " + id);
    }
  }

  /** Which document answers a pseudo-query. */
  public enum Positive {
    /** The document it was taken from. */
    OWN("own", "its document"),
    /**
     * The teacher's best of K + 1 candidates mined as for a judged query, its own document left out of the list: a
     * claim's evidence is another paper, not the one stating it.
     */
    TEACHER("teacher", "the teacher's best of K + 1 mined, its document left out");

    private final String id;
    private final String description;

    Positive(String id, String description) {
      this.id = id;
      this.description = description;
    }

    /** The name {@code distill --pseudo-positive} takes. */
    public String id() {
      return id;
    }

    /** How a manifest's {@code training.data.pseudoQueries.positive} describes it. */
    public String description() {
      return description;
    }

    /** @throws IllegalArgumentException if {@code id} names no positive */
    public static Positive fromId(String id) {
      for (Positive p : values()) {
        if (p.id.equals(id)) {
          return p;
        }
      }
      throw new IllegalArgumentException("--pseudo-positive must be own or teacher: " + id);
    }
  }

  /** Shortest and longest sentence, in words, that {@link Kind#SENTENCE} takes. */
  static final int MIN_WORDS = 8;
  static final int MAX_WORDS = 40;
  /** Shortest title, in characters, that {@link Kind#TITLE} takes. */
  static final int MIN_TITLE = 8;

  public PseudoQueries {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(positive, "positive");
    if (count < 0) {
      throw new IllegalArgumentException("--pseudo-queries must be >= 0: " + count);
    }
  }

  /** None: judged queries alone. */
  public static PseudoQueries none() {
    return new PseudoQueries(0, Kind.TITLE, Positive.OWN);
  }

  /**
   * Draws {@link #count()} pseudo-queries from eligible documents in a seeded random order, each a query whose
   * positive is its own document (a {@link Positive#TEACHER} caller turns them into {@link UnjudgedQuery}s).
   * Documents that yield no query (no sentence of the allowed length) are skipped, so fewer may come back.
   *
   * @param seed the run's seed (mixed, so the draw is not the held-out split's shuffle)
   * @param excluded documents that must not be a pseudo-query's positive (the held-out queries' positives)
   */
  public List<JudgedQuery> draw(BeirDataset data, long seed, Set<String> excluded) {
    List<CorpusDocument> docs = new ArrayList<>(data.corpus().values().stream().filter(this::eligible)
        .filter(d -> !excluded.contains(d.id())).toList());
    Collections.shuffle(docs, new Random(seed ^ 0x9E3779B97F4A7C15L));
    List<JudgedQuery> out = new ArrayList<>();
    for (CorpusDocument d : docs) {
      if (out.size() == count) {
        break;
      }
      String query = queryOf(d);
      if (query != null) {
        out.add(new JudgedQuery(kind.id() + ":" + d.id(), query, List.of(d.id())));
      }
    }
    return out;
  }

  private boolean eligible(CorpusDocument d) {
    return switch (kind) {
      case TITLE -> d.title() != null && d.title().strip().length() >= MIN_TITLE && !d.text().isBlank();
      case SENTENCE -> true;
    };
  }

  private String queryOf(CorpusDocument d) {
    return switch (kind) {
      case TITLE -> d.title().strip();
      case SENTENCE -> lastSentence(d.text(), MIN_WORDS, MAX_WORDS);
    };
  }

  /** The last sentence (JDK sentence boundaries, English) with a word count in [min, max], or null. */
  public static String lastSentence(String text, int min, int max) {
    BreakIterator it = BreakIterator.getSentenceInstance(Locale.ENGLISH);
    it.setText(text);
    String last = null;
    for (int start = it.first(), end = it.next(); end != BreakIterator.DONE; start = end, end = it.next()) {
      String sentence = text.substring(start, end).strip();
      int words = sentence.isEmpty() ? 0 : sentence.split("\\s+").length;
      if (words >= min && words <= max) {
        last = sentence;
      }
    }
    return last;
  }
}
