package io.d2search.ingest;

import io.d2search.testkit.Randomized;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.embed.BackboneSource;
import io.d2search.embed.TextTokenizer;
import io.d2search.ingest.Chunker.Chunk;
import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The chunker with the real MiniLM tokenizer: fixed examples, then properties over random bodies. */
class ChunkerTest {
  private static final List<String> WORDS = List.of(
      "the", "a", "search", "index", "passage", "vector", "stream", "kafka", "embedding", "model", "query", "is",
      "runs", "quickly", "over", "data", "and", "of", "to", "in", "42", "3.14", "2024", "café", "naïve", "über",
      "日本語", "文章", "emoji😀", "🚀", "pneumonoultramicroscopicsilicovolcanoconiosis", "xqzvjkwpt", "don't",
      "e-mail", "(note)", "\"quoted\"", "50%", "€10", "well-known", "Straße");
  private static final List<String> PUNCTUATION = List.of(",", ";", ":", " -", "");
  private static final List<String> ENDINGS = List.of(". ", "! ", "? ", ".\n\n", ".\n", "。", ". ");

  private static TextTokenizer tokenizer;

  @BeforeAll
  static void load() {
    tokenizer = TextTokenizer.load(BackboneSource.MINILM_L6_V2);
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  @Test
  void blankBodyHasNoChunks() {
    Chunker chunker = new Chunker(tokenizer, ChunkerConfig.defaults());
    assertThat(chunker.chunk(null)).isEmpty();
    assertThat(chunker.chunk("")).isEmpty();
    assertThat(chunker.chunk(" \n\t ")).isEmpty();
  }

  @Test
  void shortBodyIsOneTrimmedChunk() {
    Chunker chunker = new Chunker(tokenizer, ChunkerConfig.defaults());
    assertThat(chunker.chunk("  Kafka streams records. Lucene indexes vectors.\n")).containsExactly(
        "Kafka streams records. Lucene indexes vectors.");
  }

  @Test
  void packsWholeSentencesAndCarriesTrailingSentences() {
    // Each sentence is 4 tokens except the last (3): "the cat sat ." / "fish swim ."
    String body = "The cat sat. The dog ran. A bird flew. Fish swim.";
    assertThat(tokenizer.countTokens("The cat sat.")).isEqualTo(4);
    assertThat(tokenizer.countTokens("Fish swim.")).isEqualTo(3);
    Chunker chunker = new Chunker(tokenizer, new ChunkerConfig(8, 4));
    assertThat(chunker.chunk(body)).containsExactly(
        "The cat sat. The dog ran.", "The dog ran. A bird flew.", "A bird flew. Fish swim.");
    // Without overlap nothing is repeated.
    assertThat(new Chunker(tokenizer, new ChunkerConfig(8, 0)).chunk(body)).containsExactly(
        "The cat sat. The dog ran.", "A bird flew. Fish swim.");
  }

  @Test
  void longSentenceIsCutIntoOverlappingWindowsBetweenWords() {
    Random random = new Random(7);
    List<String> words = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      words.add(WORDS.get(random.nextInt(WORDS.size())).replaceAll("[^\\p{L}\\p{N}😀🚀]", ""));
    }
    // CJK characters are words of their own to WordPiece, so a cut between them is a cut between words.
    words.removeIf(w -> w.isEmpty() || w.codePoints().anyMatch(Character::isIdeographic));
    String body = String.join(" ", words) + ".";
    ChunkerConfig config = new ChunkerConfig(16, 4);
    List<Chunk> chunks = new Chunker(tokenizer, config).chunkWithOffsets(body);

    assertThat(chunks).hasSizeGreaterThan(5);
    assertInvariants(body, config, chunks, "fixed");
    Set<String> vocabulary = Set.copyOf(words);
    for (Chunk chunk : chunks) {
      // Cut between words: every piece of every chunk is a whole word (emoji included, so offsets are right).
      assertThat(Arrays.asList(chunk.text().replaceAll("\\.$", "").split(" ")))
          .as("chunk %s", chunk).allMatch(vocabulary::contains);
    }
  }

  @Test
  void wordLongerThanTheLimitIsCutInsideIt() {
    // WordPiece splits an unknown 90-letter word into dozens of pieces; no whole-word cut exists.
    Random random = new Random(11);
    StringBuilder word = new StringBuilder();
    for (int i = 0; i < 90; i++) {
      word.append((char) ('a' + random.nextInt(26)));
    }
    String body = "Before it. " + word + " after it.";
    ChunkerConfig config = new ChunkerConfig(8, 3);
    List<Chunk> chunks = new Chunker(tokenizer, config).chunkWithOffsets(body);
    assertThat(chunks).hasSizeGreaterThan(3);
    assertInvariants(body, config, chunks, "fixed");
  }

  @Test
  void configIsValidated() {
    assertThat(ChunkerConfig.defaults()).isEqualTo(new ChunkerConfig(160, 32));
    assertThatThrownBy(() -> new ChunkerConfig(7, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ChunkerConfig(16, 16)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ChunkerConfig(16, -1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void randomBodiesKeepTheInvariants() {
    long seed = Randomized.seed("ChunkerTest.randomBodiesKeepTheInvariants");
    Random random = new Random(seed);
    int bodies = Randomized.atLeast(random, 40);
    for (int i = 0; i < bodies; i++) {
      int maxTokens = 8 + random.nextInt(57);
      ChunkerConfig config = new ChunkerConfig(maxTokens, random.nextInt(maxTokens / 2 + 1));
      String body = randomBody(random);
      Chunker chunker = new Chunker(tokenizer, config);
      List<Chunk> chunks = chunker.chunkWithOffsets(body);
      String where = "seed " + seed + ", body " + i + ", " + config;
      assertInvariants(body, config, chunks, where);
      // Deterministic: the same input, even through another instance, gives the same chunks.
      assertThat(new Chunker(tokenizer, config).chunk(body)).as(where)
          .isEqualTo(chunks.stream().map(Chunk::text).toList());
    }
  }

  private static void assertInvariants(String body, ChunkerConfig config, List<Chunk> chunks, String where) {
    boolean[] covered = new boolean[body.length()];
    Chunk previous = null;
    for (Chunk chunk : chunks) {
      assertThat(chunk.text()).as(where).isEqualTo(body.substring(chunk.start(), chunk.end())).isNotBlank();
      assertThat(tokenizer.countTokens(chunk.text())).as("%s: tokens of %s", where, chunk)
          .isLessThanOrEqualTo(config.maxTokens());
      if (previous != null) {
        assertThat(chunk.start()).as("%s: order", where).isGreaterThan(previous.start());
        assertThat(chunk.end()).as("%s: order", where).isGreaterThan(previous.end());
        if (chunk.start() < previous.end()) {
          String overlap = body.substring(chunk.start(), previous.end());
          assertThat(tokenizer.countTokens(overlap)).as("%s: overlap '%s'", where, overlap)
              .isLessThanOrEqualTo(config.overlapTokens());
        }
      }
      Arrays.fill(covered, chunk.start(), chunk.end(), true);
      previous = chunk;
    }
    for (int i = 0; i < body.length(); i++) {
      if (!Character.isWhitespace(body.charAt(i))) {
        assertThat(covered[i]).as("%s: character %d '%c' covered", where, i, body.charAt(i)).isTrue();
      }
    }
    // Sentences that fit are never split: each lies inside one chunk.
    BreakIterator sentences = BreakIterator.getSentenceInstance(Locale.ROOT);
    sentences.setText(body);
    for (int from = sentences.first(), to = sentences.next(); to != BreakIterator.DONE;
        from = to, to = sentences.next()) {
      String sentence = body.substring(from, to).strip();
      if (sentence.isEmpty() || tokenizer.countTokens(sentence) > config.maxTokens()) {
        continue;
      }
      int start = body.indexOf(sentence, from);
      int end = start + sentence.length();
      assertThat(chunks).as("%s: sentence '%s' whole in a chunk", where, sentence)
          .anyMatch(c -> c.start() <= start && end <= c.end());
    }
  }

  private static String randomBody(Random random) {
    StringBuilder body = new StringBuilder();
    int sentences = 1 + random.nextInt(30);
    for (int s = 0; s < sentences; s++) {
      // Mostly ordinary sentences, sometimes one far over any limit.
      int words = random.nextInt(10) == 0 ? 60 + random.nextInt(200) : 1 + random.nextInt(25);
      for (int w = 0; w < words; w++) {
        body.append(WORDS.get(random.nextInt(WORDS.size())));
        if (w < words - 1) {
          body.append(random.nextInt(8) == 0 ? PUNCTUATION.get(random.nextInt(PUNCTUATION.size())) : "");
          body.append(' ');
        }
      }
      body.append(ENDINGS.get(random.nextInt(ENDINGS.size())));
    }
    return random.nextBoolean() ? body.toString() : "  " + body + "\n";
  }
}
