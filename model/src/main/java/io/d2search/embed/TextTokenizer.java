package io.d2search.embed;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The backbone's WordPiece/BPE tokenizer (HuggingFace {@code tokenizers}, native library bundled in its jar).
 * One instance serves indexing, querying and chunking, so the same text always gives the same tokens.
 *
 * <p>Truncation is done here, not by the tokenizer, so that it is identical everywhere: a text longer than
 * {@code maxTokens} keeps its first {@code maxTokens - 1} tokens and its final special token, as
 * HuggingFace truncation does for one sequence. Thread-safe.
 */
public final class TextTokenizer implements AutoCloseable {

  static {
    // DJL would otherwise probe cloud metadata endpoints ("call home") and may try to download natives;
    // the tokenizer's native library ships inside its jar, so everything stays offline.
    setIfAbsent("OPT_OUT_TRACKING", "true");
    setIfAbsent("ai.djl.offline", "true");
  }

  private final HuggingFaceTokenizer tokenizer;

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  private TextTokenizer(HuggingFaceTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Loads the tokenizer of a backbone. */
  public static TextTokenizer load(BackboneSource source) {
    return fromJson(source.tokenizerBytes(), source.id());
  }

  static TextTokenizer fromJson(byte[] tokenizerJson, String name) {
    // The settings in tokenizer.json (MiniLM's says truncate at 128) must not apply: we truncate ourselves.
    Map<String, String> options = Map.of(
        "addSpecialTokens", "true", "truncation", "false", "padding", "false", "modelMaxLength", "1000000");
    try {
      return new TextTokenizer(HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), options));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot load tokenizer of " + name, e);
    }
  }

  /** Number of tokens in the text, without special tokens. */
  public int countTokens(String text) {
    return tokenizer.encode(text, false, false).getIds().length;
  }

  /**
   * Span {@code [start, end)} of every token of the text, without special tokens, in order. Offsets count Unicode
   * code points, as the native tokenizer reports them, not Java {@code char}s: they differ after a character
   * outside the Basic Multilingual Plane (an emoji); convert with {@link String#offsetByCodePoints}.
   */
  public List<Span> spans(String text) {
    CharSpan[] spans = tokenizer.encode(text, false, false).getCharTokenSpans();
    List<Span> result = new ArrayList<>(spans.length);
    for (CharSpan span : spans) {
      if (span != null) {
        result.add(new Span(span.getStart(), span.getEnd()));
      }
    }
    return result;
  }

  /**
   * Tokenizes texts for the backbone: special tokens added, each truncated to {@code maxTokens}, padded with
   * zeros to the longest in the batch.
   */
  public Batch encode(List<String> texts, int maxTokens) {
    Encoding[] encodings = tokenizer.batchEncode(texts);
    int width = 0;
    for (Encoding e : encodings) {
      width = Math.max(width, Math.min(e.getIds().length, maxTokens));
    }
    long[][] ids = new long[texts.size()][width];
    long[][] mask = new long[texts.size()][width];
    long[][] types = new long[texts.size()][width];
    for (int i = 0; i < encodings.length; i++) {
      copyTruncated(encodings[i].getIds(), ids[i], maxTokens);
      copyTruncated(encodings[i].getAttentionMask(), mask[i], maxTokens);
      copyTruncated(encodings[i].getTypeIds(), types[i], maxTokens);
    }
    return new Batch(ids, mask, types);
  }

  private static void copyTruncated(long[] source, long[] target, int maxTokens) {
    if (source.length <= maxTokens) {
      System.arraycopy(source, 0, target, 0, source.length);
    } else {
      System.arraycopy(source, 0, target, 0, maxTokens - 1);
      target[maxTokens - 1] = source[source.length - 1];
    }
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  /** A character range {@code [start, end)} of one token. */
  public record Span(int start, int end) {}

  /**
   * Token ids, attention mask and token type ids of a batch, each {@code [batch][width]}, zero padded.
   * Arrays are owned by the batch; callers must not modify them.
   */
  public record Batch(long[][] ids, long[][] mask, long[][] typeIds) {
    public int size() {
      return ids.length;
    }

    public int width() {
      return ids.length == 0 ? 0 : ids[0].length;
    }
  }
}
