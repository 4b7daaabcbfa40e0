package io.d2search.ingest;

import io.d2search.embed.TextTokenizer;
import io.d2search.embed.TextTokenizer.Span;
import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Cuts a document body into passages: deterministic (same body and config, same chunks) and token-aware.
 *
 * <ul>
 *   <li>The body is split into sentences ({@link BreakIterator} for {@link Locale#ROOT}); whitespace around a
 *       sentence is not part of it.
 *   <li>Whole sentences are packed into a chunk while its tokens (the backbone's tokenizer, no special tokens)
 *       stay within {@code maxTokens}.
 *   <li>The next chunk starts with the trailing sentences of the previous one that total at most
 *       {@code overlapTokens} tokens (fewer if the new sentence would not fit otherwise).
 *   <li>A sentence longer than {@code maxTokens} becomes chunks of its own: windows of at most {@code maxTokens}
 *       tokens that overlap by at most {@code overlapTokens}, cut at token boundaries, preferably between words.
 *       Chunks before and after it do not overlap with it.
 * </ul>
 *
 * <p>Every chunk is a non-blank substring of the body; together, in order, the chunks cover every sentence.
 * Every chunk is re-counted before it is emitted, so it holds at most {@code maxTokens} tokens even where a cut
 * inside a word would tokenize differently on its own (only a single token that re-tokenizes into more than
 * {@code maxTokens} pieces, which no tokenizer in use does, could exceed it).
 *
 * <p>Thread-safe: it keeps no mutable state and the tokenizer is thread-safe.
 */
public final class Chunker {
  private final TextTokenizer tokenizer;
  private final ChunkerConfig config;

  /**
   * @param tokenizer the backbone's tokenizer (use the embedder's, so chunks are counted as they are embedded);
   *     not closed by the chunker
   * @param config limits
   */
  public Chunker(TextTokenizer tokenizer, ChunkerConfig config) {
    this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    this.config = Objects.requireNonNull(config, "config");
  }

  /** The limits this chunker applies. */
  public ChunkerConfig config() {
    return config;
  }

  /**
   * The chunk texts of a body, in order.
   *
   * @param body may be null; null or blank gives no chunks
   * @return an immutable list, never null
   */
  public List<String> chunk(String body) {
    return chunkWithOffsets(body).stream().map(Chunk::text).toList();
  }

  /**
   * The chunks of a body with where each lies in it.
   *
   * @param body may be null; null or blank gives no chunks
   * @return an immutable list, in order of position (starts and ends strictly increase), never null
   */
  public List<Chunk> chunkWithOffsets(String body) {
    if (body == null || body.isBlank()) {
      return List.of();
    }
    int maxTokens = config.maxTokens();
    List<Chunk> out = new ArrayList<>();
    List<Sentence> current = new ArrayList<>();
    int tokens = 0;
    for (Sentence s : sentences(body)) {
      if (s.tokens() > maxTokens) {
        if (!current.isEmpty()) {
          emitSentences(body, current, out);
        }
        cutWindows(body, s.start(), s.end(), out);
        current = new ArrayList<>();
        tokens = 0;
        continue;
      }
      if (tokens + s.tokens() > maxTokens) {
        emitSentences(body, current, out);
        // The carried sentences must leave room for s, or the new chunk would overflow at once.
        current = trailing(current, Math.min(config.overlapTokens(), maxTokens - s.tokens()));
        tokens = current.stream().mapToInt(Sentence::tokens).sum();
      }
      current.add(s);
      tokens += s.tokens();
    }
    if (!current.isEmpty()) {
      emitSentences(body, current, out);
    }
    return List.copyOf(out);
  }

  /**
   * One chunk.
   *
   * @param start index of its first character in the body
   * @param end index after its last character
   * @param text {@code body.substring(start, end)}, never blank
   */
  public record Chunk(int start, int end, String text) {}

  private record Sentence(int start, int end, int tokens) {}

  private List<Sentence> sentences(String body) {
    // BreakIterator instances are stateful and not thread-safe: one per call.
    BreakIterator it = BreakIterator.getSentenceInstance(Locale.ROOT);
    it.setText(body);
    List<Sentence> sentences = new ArrayList<>();
    for (int from = it.first(), to = it.next(); to != BreakIterator.DONE; from = to, to = it.next()) {
      int start = skipWhitespace(body, from, to);
      int end = trimWhitespace(body, start, to);
      if (start < end) {
        sentences.add(new Sentence(start, end, tokenizer.countTokens(body.substring(start, end))));
      }
    }
    return sentences;
  }

  private static List<Sentence> trailing(List<Sentence> sentences, int budget) {
    int from = sentences.size();
    int total = 0;
    while (from > 0 && total + sentences.get(from - 1).tokens() <= budget) {
      total += sentences.get(--from).tokens();
    }
    return new ArrayList<>(sentences.subList(from, sentences.size()));
  }

  private void emitSentences(String body, List<Sentence> sentences, List<Chunk> out) {
    int start = sentences.getFirst().start();
    int end = sentences.getLast().end();
    if (sentences.size() > 1 && tokenizer.countTokens(body.substring(start, end)) > config.maxTokens()) {
      // The sentences' own counts did not add up (a sentence boundary inside a word): cut by tokens instead.
      cutWindows(body, start, end, out);
    } else {
      add(body, start, end, out);
    }
  }

  /** Cuts {@code body[from, to)} into token windows of at most maxTokens with at most overlapTokens overlap. */
  private void cutWindows(String body, int from, int to, List<Chunk> out) {
    String text = body.substring(from, to);
    List<Span> spans = charSpans(text);
    int n = spans.size();
    int maxTokens = config.maxTokens();
    if (n <= maxTokens) {
      add(body, from, to, out);
      return;
    }
    int a = 0;
    int previousEnd = 0; // token index the previous window ended at; each window must end beyond it
    while (true) {
      int b = Math.min(a + maxTokens, n);
      if (b < n) {
        b = wordBoundaryAtOrBefore(text, spans, Math.max(a, previousEnd), b);
      }
      // A cut inside a word can re-tokenize into more pieces: shrink the window until it really fits, from the
      // end while it still ends beyond the previous window, else from the start while it still touches it.
      while (tokenizer.countTokens(text.substring(startOf(spans, a), endOf(text, spans, b))) > maxTokens) {
        if (b > Math.max(a, previousEnd) + 1) {
          b--;
        } else if (a < previousEnd) {
          a++;
        } else {
          break; // a single token that re-tokenizes into more than maxTokens pieces: keep it rather than lose it
        }
      }
      add(body, from + startOf(spans, a), from + endOf(text, spans, b), out);
      if (b == n) {
        return;
      }
      previousEnd = b;
      int next = Math.max(a + 1, b - config.overlapTokens());
      while (next < b && !isWordBoundary(text, spans, next)) {
        next++; // less overlap rather than a window that starts inside a word
      }
      a = next;
    }
  }

  // Windows are contiguous: each ends where the next token starts; the first and last reach the range ends.

  /** Where a window starting at token {@code a} starts in the text. */
  private static int startOf(List<Span> spans, int a) {
    return a == 0 ? 0 : spans.get(a).start();
  }

  /** Where a window ending before token {@code b} ends in the text. */
  private static int endOf(String text, List<Span> spans, int b) {
    return b == spans.size() ? text.length() : spans.get(b).start();
  }

  /** The largest cut {@code c} in {@code (after, b]} before a word start, or {@code b} if there is none. */
  private static int wordBoundaryAtOrBefore(String text, List<Span> spans, int after, int b) {
    for (int c = b; c > after; c--) {
      if (isWordBoundary(text, spans, c)) {
        return c;
      }
    }
    return b;
  }

  /**
   * Whether a cut just before token {@code i} falls between words, so both sides tokenize alone as they did in
   * place. A heuristic for WordPiece-style pre-tokenizers (split at whitespace, punctuation and CJK characters);
   * the re-count in {@link #cutWindows} keeps the limit whatever it says.
   */
  private static boolean isWordBoundary(String text, List<Span> spans, int i) {
    Span previous = spans.get(i - 1);
    Span token = spans.get(i);
    if (token.start() > previous.end()) {
      return true;
    }
    return !isWordChar(text.codePointBefore(previous.end())) || !isWordChar(text.codePointAt(token.start()));
  }

  private static boolean isWordChar(int cp) {
    return !Character.isWhitespace(cp) && !isPunctuation(cp) && !Character.isIdeographic(cp);
  }

  /** Punctuation as BERT's pre-tokenizer sees it: all non-alphanumeric ASCII, and Unicode P* categories. */
  private static boolean isPunctuation(int cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      return true;
    }
    return switch (Character.getType(cp)) {
      case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
           Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
           Character.OTHER_PUNCTUATION -> true;
      default -> false;
    };
  }

  /**
   * Token spans as UTF-16 indices into {@code text}. The tokenizer reports offsets in code points (Unicode
   * scalar values), which differ from Java string indices after a supplementary character such as an emoji.
   */
  private List<Span> charSpans(String text) {
    List<Span> spans = tokenizer.spans(text);
    int codePoints = text.codePointCount(0, text.length());
    if (codePoints == text.length()) {
      return spans;
    }
    int[] charIndex = new int[codePoints + 1];
    for (int cp = 0, i = 0; cp < codePoints; cp++) {
      charIndex[cp] = i;
      i += Character.charCount(text.codePointAt(i));
    }
    charIndex[codePoints] = text.length();
    List<Span> converted = new ArrayList<>(spans.size());
    for (Span s : spans) {
      converted.add(new Span(charIndex[Math.min(s.start(), codePoints)], charIndex[Math.min(s.end(), codePoints)]));
    }
    return converted;
  }

  private static void add(String body, int from, int to, List<Chunk> out) {
    int start = skipWhitespace(body, from, to);
    int end = trimWhitespace(body, start, to);
    if (start < end) {
      out.add(new Chunk(start, end, body.substring(start, end)));
    }
  }

  private static int skipWhitespace(String s, int from, int to) {
    int i = from;
    while (i < to && Character.isWhitespace(s.codePointAt(i))) {
      i += Character.charCount(s.codePointAt(i));
    }
    return i;
  }

  private static int trimWhitespace(String s, int from, int to) {
    int i = to;
    while (i > from && Character.isWhitespace(s.codePointBefore(i))) {
      i -= Character.charCount(s.codePointBefore(i));
    }
    return i;
  }
}
