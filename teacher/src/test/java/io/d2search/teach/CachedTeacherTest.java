package io.d2search.teach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.embed.TextHash;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CachedTeacherTest {
  @TempDir Path dir;

  /** Scores a passage by its length (mod 10) plus an offset, and records what it was asked. */
  static final class CountingTeacher implements Teacher {
    final String id;
    final double offset;
    final List<List<String>> asked = new CopyOnWriteArrayList<>();

    CountingTeacher(String id, double offset) {
      this.id = id;
      this.offset = offset;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public double[] score(String query, List<String> passages) {
      asked.add(List.copyOf(passages));
      return passages.stream().mapToDouble(p -> Math.min(1, (p.length() % 10) / 10.0 + offset)).toArray();
    }

    int passagesAsked() {
      return asked.stream().mapToInt(List::size).sum();
    }
  }

  @Test
  void hitsDoNotCallTheInnerTeacher() {
    CountingTeacher inner = new CountingTeacher("t1", 0);
    try (CachedTeacher cached = CachedTeacher.open(inner, dir)) {
      assertThat(cached.id()).isEqualTo("t1");
      double[] first = cached.score("q", List.of("a", "bb"));
      assertThat(first).containsExactly(0.1, 0.2);
      double[] second = cached.score("q", List.of("bb", "ccc", "a"));
      assertThat(second).containsExactly(0.2, 0.3, 0.1);
      assertThat(inner.asked).containsExactly(List.of("a", "bb"), List.of("ccc"));
      cached.score("q", List.of("a", "bb", "ccc"));
      assertThat(inner.asked).hasSize(2);
      assertThat(cached.hits()).isEqualTo(5);
      assertThat(cached.misses()).isEqualTo(3);
      // Same passage, other query: a different pair.
      cached.score("other query", List.of("a"));
      assertThat(inner.asked).hasSize(3);
      assertThat(cached.score("q", List.of())).isEmpty();
    }
  }

  @Test
  void aPassageRepeatedInOneCallIsAskedOnce() {
    CountingTeacher inner = new CountingTeacher("t1", 0);
    try (CachedTeacher cached = CachedTeacher.open(inner, dir)) {
      assertThat(cached.score("q", List.of("xy", "xy", "z"))).containsExactly(0.2, 0.2, 0.1);
      assertThat(inner.asked).containsExactly(List.of("xy", "z"));
    }
  }

  @Test
  void reopeningKeepsTheScoresAndTheTeacherIdIsPartOfTheKey() {
    CountingTeacher inner = new CountingTeacher("t1", 0);
    try (CachedTeacher cached = CachedTeacher.open(inner, dir)) {
      cached.score("q", List.of("a", "bb"));
    }
    // Same id, different numbers: the cache answers, so the stored values come back.
    CountingTeacher again = new CountingTeacher("t1", 0.5);
    try (CachedTeacher cached = CachedTeacher.open(again, dir)) {
      assertThat(cached.score("q", List.of("bb", "a"))).containsExactly(0.2, 0.1);
      assertThat(again.passagesAsked()).isZero();
    }
    // Another teacher id shares the database but not the scores.
    CountingTeacher other = new CountingTeacher("t2", 0.5);
    try (CachedTeacher cached = CachedTeacher.open(other, dir)) {
      assertThat(cached.score("q", List.of("a"))).containsExactly(0.6);
      assertThat(other.passagesAsked()).isEqualTo(1);
    }
  }

  @Test
  void theKeyIsTheSha256OfIdQueryAndPassageJoinedByNul() {
    byte[] key = CachedTeacher.key("t1", "what?", "passage ü");
    assertThat(HexFormat.of().formatHex(key)).isEqualTo(TextHash.sha256("t1\u0000what?\u0000passage ü"));
    // The separator keeps the boundary between query and passage (texts are not expected to contain NUL).
    assertThat(CachedTeacher.key("t1", "ab", "c")).isNotEqualTo(CachedTeacher.key("t1", "a", "bc"));
  }

  @Test
  void onlyAnOwningCacheClosesItsInnerTeacherAndAFailedOpenClosesItToo() throws Exception {
    class Closable implements Teacher {
      int closed;

      @Override
      public String id() {
        return "t1";
      }

      @Override
      public double[] score(String query, List<String> passages) {
        return passages.stream().mapToDouble(p -> 0.1).toArray();
      }

      @Override
      public void close() {
        closed++;
      }
    }
    Closable borrowed = new Closable();
    CachedTeacher.open(borrowed, dir.resolve("a")).close();
    assertThat(borrowed.closed).isZero();
    Closable owned = new Closable();
    try (CachedTeacher cached = CachedTeacher.owning(owned, dir.resolve("b"))) {
      assertThat(cached.score("q", List.of("a"))).containsExactly(0.1);
    }
    assertThat(owned.closed).isEqualTo(1);
    Closable orphan = new Closable();
    Path notADirectory = java.nio.file.Files.writeString(dir.resolve("file"), "x");
    assertThatThrownBy(() -> CachedTeacher.owning(orphan, notADirectory)).isInstanceOf(TeacherException.class);
    assertThat(orphan.closed).isEqualTo(1);
  }

  @Test
  void anInnerScoreOutsideTheUnitIntervalIsRejectedAndNotStored() {
    Teacher broken = new Teacher() {
      @Override
      public String id() {
        return "broken";
      }

      @Override
      public double[] score(String query, List<String> passages) {
        return passages.stream().mapToDouble(p -> 1.5).toArray();
      }
    };
    try (CachedTeacher cached = CachedTeacher.open(broken, dir)) {
      assertThatThrownBy(() -> cached.score("q", List.of("a"))).isInstanceOf(TeacherException.class)
          .hasMessageContaining("outside [0, 1]");
      assertThatThrownBy(() -> cached.score("q", List.of("a"))).isInstanceOf(TeacherException.class);
    }
  }

  @Test
  void concurrentCallersGetConsistentScores() throws Exception {
    CountingTeacher inner = new CountingTeacher("t1", 0);
    try (CachedTeacher cached = CachedTeacher.open(inner, dir)) {
      List<Thread> threads = new ArrayList<>();
      List<Throwable> errors = new CopyOnWriteArrayList<>();
      for (int t = 0; t < 8; t++) {
        threads.add(Thread.ofPlatform().start(() -> {
          try {
            for (int i = 0; i < 50; i++) {
              String p = "p".repeat(1 + i % 7);
              assertThat(cached.score("q", List.of(p))[0]).isEqualTo((p.length() % 10) / 10.0);
            }
          } catch (Throwable e) {
            errors.add(e);
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      assertThat(errors).isEmpty();
      assertThat(cached.hits() + cached.misses()).isEqualTo(400);
      assertThat(cached.misses()).isLessThanOrEqualTo(7 * 8);
    }
  }
}
