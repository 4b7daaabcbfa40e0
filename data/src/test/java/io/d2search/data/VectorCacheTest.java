package io.d2search.data;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.testkit.Randomized;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash while appending leaves a torn last entry; the cache must stay readable after more appends. Seen in this
 * session: an eval killed while caching SciFact's vectors, a second eval appended after the torn bytes, and a third
 * read keys as floats ("vector ... is not unit length (squared norm 3.0E75)").
 */
class VectorCacheTest {
  @TempDir Path dir;

  @Test
  void aTornLastEntryIsCutOffSoLaterAppendsStayAligned() throws IOException {
    Random random = Randomized.random("aTornLastEntryIsCutOffSoLaterAppendsStayAligned");
    int dimension = 8 + random.nextInt(32);
    Map<String, float[]> written = new LinkedHashMap<>();
    try (VectorCache cache = VectorCache.open(dir, "model", dimension)) {
      for (int i = 0; i < 10; i++) {
        written.put("text " + i, vector(random, dimension));
        cache.put("text " + i, written.get("text " + i));
      }
    }
    Path file = dir.resolve("model.vec");
    long entry = 32 + 4L * dimension;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(Files.size(file) - 1 - random.nextInt((int) entry - 1)); // the crash: the last entry torn
    }
    written.remove("text 9");
    try (VectorCache cache = VectorCache.open(dir, "model", dimension)) {
      assertThat(cache.size()).isEqualTo(9);
      for (int i = 10; i < 15; i++) {
        written.put("text " + i, vector(random, dimension));
        cache.put("text " + i, written.get("text " + i));
      }
    }
    try (VectorCache cache = VectorCache.open(dir, "model", dimension)) {
      assertThat(cache.size()).isEqualTo(written.size());
      written.forEach((text, v) -> assertThat(cache.get(text)).as(text).containsExactly(v));
    }
    assertThat(Files.size(file) % entry).isZero();
  }

  private static float[] vector(Random random, int dimension) {
    float[] v = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return v;
  }
}
