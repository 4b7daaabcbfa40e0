package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.embed.TokenStates;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenStateCacheTest {
  private static final String BACKBONE = "ab".repeat(32);

  @TempDir Path dir;

  private static TokenSequence random(Random r, int tokens, int dim) {
    return new TokenSequence(Djl.gaussian(r, 1, tokens * dim), tokens, dim);
  }

  @Test
  void roundTripsAcrossReopenAndStreams() {
    long seed = new Random().nextLong();
    System.out.println("TokenStateCacheTest seed " + seed);
    Random r = new Random(seed);
    Map<String, TokenSequence> written = new TreeMap<>();
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 16, 6)) {
      for (int i = 0; i < 20; i++) {
        TokenSequence s = random(r, 1 + r.nextInt(16), 6);
        written.put("text " + i + " ünïcödé", s);
        cache.put("text " + i + " ünïcödé", s);
      }
      cache.put("text 0 ünïcödé", random(r, 3, 6)); // already cached: ignored
      assertThat(cache.size()).isEqualTo(20);
      assertThat(cache.get("absent")).isEmpty();
    }
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 16, 6)) {
      assertThat(cache.size()).isEqualTo(20);
      written.forEach((text, s) -> assertThat(cache.get(text)).contains(s));
    }
    Map<String, TokenSequence> streamed = new TreeMap<>();
    try (TokenStateCache.Reader reader = TokenStateCache.reader(TokenStateCache.fileFor(dir, BACKBONE, 16))) {
      assertThat(reader.backboneSha256()).isEqualTo(BACKBONE);
      assertThat(reader.maxTokens()).isEqualTo(16);
      assertThat(reader.dim()).isEqualTo(6);
      reader.forEachRemaining(e -> streamed.put(e.textSha256(), e.states()));
    }
    assertThat(streamed).hasSize(20);
    written.forEach((text, s) -> assertThat(streamed.get(TextHash.sha256(text))).isEqualTo(s));
  }

  @Test
  void dropsAnIncompleteLastRecord() throws IOException {
    Random r = new Random(7);
    TokenSequence kept = random(r, 4, 3);
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 8, 3)) {
      cache.put("kept", kept);
      cache.put("cut", random(r, 5, 3));
    }
    Path file = TokenStateCache.fileFor(dir, BACKBONE, 8);
    long complete = Files.size(file);
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
      c.truncate(complete - 7); // a crash in the middle of the last append
    }
    try (TokenStateCache.Reader reader = TokenStateCache.reader(file)) {
      assertThat(reader.next().states()).isEqualTo(kept);
      assertThat(reader.hasNext()).isFalse();
    }
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 8, 3)) {
      assertThat(cache.size()).isEqualTo(1);
      assertThat(cache.get("kept")).contains(kept);
      assertThat(cache.get("cut")).isEmpty();
      cache.put("after", kept); // appends where the complete records end
    }
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 8, 3)) {
      assertThat(cache.size()).isEqualTo(2);
      assertThat(cache.get("after")).contains(kept);
    }
  }

  @Test
  void refusesAnotherBackboneOrShape() throws IOException {
    try (TokenStateCache cache = TokenStateCache.open(dir, BACKBONE, 8, 3)) {
      cache.put("x", new TokenSequence(new float[3], 1, 3));
      assertThatThrownBy(() -> cache.put("y", new TokenSequence(new float[4], 1, 4)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> cache.put("z", new TokenSequence(new float[27], 9, 3)))
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> TokenStateCache.open(dir, BACKBONE, 8, 4)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("dim 3");
    // a file renamed to another backbone's name is caught by its header
    Files.copy(TokenStateCache.fileFor(dir, BACKBONE, 8), TokenStateCache.fileFor(dir, "cd".repeat(32), 8));
    assertThatThrownBy(() -> TokenStateCache.open(dir, "cd".repeat(32), 8, 3))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining(BACKBONE);
    assertThatThrownBy(() -> TokenStateCache.open(dir, "not hex", 8, 3)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cachesWhatTheEmbedderComputes() {
    EmbedderConfig config = EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(1)
        .withMaxTokens(16);
    List<String> texts = List.of("A man is eating food.", "short", "A man is eating food.",
        "The stock market fell sharply today after a long run of gains in technology shares and banks.");
    try (Embedder embedder = Embedder.create(config);
        TokenStateCache cache = TokenStateCache.open(dir, embedder.info())) {
      List<TokenSequence> first = cache.getOrCompute(texts, embedder);
      assertThat(cache.size()).isEqualTo(3);
      long size = fileSize(cache.file());
      List<TokenSequence> again = cache.getOrCompute(texts, embedder);
      assertThat(again).isEqualTo(first);
      assertThat(fileSize(cache.file())).isEqualTo(size); // nothing recomputed or appended
      assertThat(first.get(0)).isEqualTo(first.get(2));
      assertThat(first.get(3).tokens()).isEqualTo(16); // truncated at maxTokens
      // the cached real tokens are the backbone's states of the text run alone (no padding)
      for (int i = 0; i < texts.size(); i++) {
        TokenStates alone = embedder.tokenStates(List.of(texts.get(i)));
        assertThat(alone.tokens()).isEqualTo(first.get(i).tokens());
        float[] expected = alone.data();
        float[] cached = first.get(i).data();
        for (int k = 0; k < expected.length; k++) {
          assertThat(cached[k]).isCloseTo(expected[k], within(1e-4f));
        }
      }
      List<String> other = new ArrayList<>(texts);
      other.add("one more");
      assertThat(cache.getOrCompute(other, embedder)).hasSize(5);
      assertThat(cache.size()).isEqualTo(4);
    }
  }

  private static long fileSize(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
