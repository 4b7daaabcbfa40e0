package io.d2search.teach;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A teacher whose scores are kept on disk, so that a refresh never pays twice for the same (teacher, query,
 * passage). Scores live in a RocksDB database keyed by {@code sha256(teacherId + '\0' + query + '\0' + passage)}
 * (32 bytes), each value the score as an 8-byte big-endian double. One database may hold the scores of many
 * teachers: the id is part of the key.
 *
 * <p>On {@link #score}, cached pairs are answered from disk; the rest (each distinct passage once) go to the inner
 * teacher in one call and are written back in one batch. Writes go through RocksDB's write-ahead log, so they
 * survive a crash of this process (not necessarily of the machine).
 *
 * <p>A teacher whose scores depend on the other candidates of a call (an {@link EnsembleTeacher} with PER_CALL
 * normalisation) is cached per pair all the same: the first candidate set a pair was scored in wins. The default
 * ensemble (GLOBAL) and the LLM and cross-encoder teachers are pointwise, so the cache is exact for them.
 *
 * <p>Thread-safe if the inner teacher is. Two concurrent calls may both miss on the same pair and both ask the
 * inner teacher; the stored value is then the last written. {@link #close()} closes the database, and the inner
 * teacher only when it was handed over with {@link #owning}; do not close while calls are in flight.
 */
public final class CachedTeacher implements Teacher {
  static {
    RocksDB.loadLibrary();
  }

  private final Teacher inner;
  private final String teacherId;
  private final Options options;
  private final RocksDB db;
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final boolean ownsInner;

  private CachedTeacher(Teacher inner, Options options, RocksDB db, boolean ownsInner) {
    this.inner = inner;
    this.teacherId = inner.id();
    this.options = options;
    this.db = db;
    this.ownsInner = ownsInner;
  }

  /**
   * Opens (or creates) the score database in {@code dir} in front of {@code inner}.
   *
   * @throws TeacherException if the database cannot be opened (e.g. another process holds its lock)
   */
  public static CachedTeacher open(Teacher inner, Path dir) {
    return open(inner, dir, false);
  }

  /**
   * As {@link #open}, taking {@code inner} over: closing the cache closes it too, and so does a failure to open.
   *
   * @throws TeacherException if the database cannot be opened (then {@code inner} is closed)
   */
  public static CachedTeacher owning(Teacher inner, Path dir) {
    try {
      return open(inner, dir, true);
    } catch (RuntimeException e) {
      try {
        inner.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static CachedTeacher open(Teacher inner, Path dir, boolean ownsInner) {
    Objects.requireNonNull(inner, "inner");
    Objects.requireNonNull(dir, "dir");
    Options options = new Options().setCreateIfMissing(true);
    try {
      Files.createDirectories(dir);
      return new CachedTeacher(inner, options, RocksDB.open(options, dir.toString()), ownsInner);
    } catch (RocksDBException | java.io.IOException e) {
      options.close();
      throw new TeacherException("Cannot open teacher score cache in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The inner teacher's id: caching does not change the scores. */
  @Override
  public String id() {
    return teacherId;
  }

  @Override
  public double[] score(String query, List<String> passages) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(passages, "passages");
    int n = passages.size();
    double[] out = new double[n];
    if (n == 0) {
      return out;
    }
    List<byte[]> keys = new ArrayList<>(n);
    for (String p : passages) {
      keys.add(key(teacherId, query, Objects.requireNonNull(p, "passage")));
    }
    List<byte[]> stored;
    try {
      stored = db.multiGetAsList(keys);
    } catch (RocksDBException e) {
      throw new TeacherException("Teacher score cache read failed: " + e.getMessage(), e);
    }
    // Each distinct missing passage once, remembering every position it fills.
    Map<String, List<Integer>> missing = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      byte[] value = stored.get(i);
      if (value != null && value.length == Double.BYTES) {
        out[i] = ByteBuffer.wrap(value).getDouble();
      } else {
        missing.computeIfAbsent(passages.get(i), k -> new ArrayList<>()).add(i);
      }
    }
    int missingPositions = missing.values().stream().mapToInt(List::size).sum();
    hits.addAndGet(n - missingPositions);
    misses.addAndGet(missingPositions);
    if (missing.isEmpty()) {
      return out;
    }
    List<String> ask = List.copyOf(missing.keySet());
    double[] fresh = inner.score(query, ask);
    if (fresh == null || fresh.length != ask.size()) {
      throw new TeacherException("Teacher " + teacherId + " returned " + (fresh == null ? "null" : fresh.length)
          + " scores for " + ask.size() + " passages");
    }
    try (WriteBatch batch = new WriteBatch(); WriteOptions write = new WriteOptions()) {
      for (int j = 0; j < ask.size(); j++) {
        double s = fresh[j];
        if (!(s >= 0 && s <= 1)) {
          throw new TeacherException("Teacher " + teacherId + " returned a score outside [0, 1]: " + s);
        }
        List<Integer> positions = missing.get(ask.get(j));
        for (int i : positions) {
          out[i] = s;
        }
        batch.put(keys.get(positions.get(0)), ByteBuffer.allocate(Double.BYTES).putDouble(s).array());
      }
      db.write(write, batch);
    } catch (RocksDBException e) {
      throw new TeacherException("Teacher score cache write failed: " + e.getMessage(), e);
    }
    return out;
  }

  /** Scores answered from the cache since this instance was opened. */
  public long hits() {
    return hits.get();
  }

  /** Scores that had to be asked of the inner teacher since this instance was opened. */
  public long misses() {
    return misses.get();
  }

  /** The cache key of a pair: {@code sha256(teacherId + '\0' + query + '\0' + passage)} over UTF-8. */
  static byte[] key(String teacherId, String query, String passage) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(teacherId.getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(query.getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(passage.getBytes(StandardCharsets.UTF_8));
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every JVM", e);
    }
  }

  /** Closes the database, then the inner teacher if this cache owns it. */
  @Override
  public void close() {
    try {
      db.close();
      options.close();
    } finally {
      if (ownsInner) {
        inner.close();
      }
    }
  }
}
