package io.d2search.data;

import io.d2search.embed.ModelInfo;
import io.d2search.embed.TextHash;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Vectors of texts already embedded by one model, kept in an append-only file so repeated evaluations and
 * benchmarks do not pay for the corpus again. The file is specific to the backbone checksum, sequence limit and
 * pooling, so a changed model never reads stale vectors. Each entry is the SHA-256 of the text followed by the
 * vector; a torn last entry (a crash while appending) is cut off when the file is opened again.
 */
public final class VectorCache implements AutoCloseable {
  private static final int KEY_BYTES = 32;
  private final Map<String, float[]> vectors = new HashMap<>();
  private final int dimension;
  private final DataOutputStream out;

  private VectorCache(Path file, int dimension) throws IOException {
    this.dimension = dimension;
    if (Files.exists(file)) {
      try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
        byte[] key = new byte[32];
        while (true) {
          float[] v = new float[dimension];
          try {
            in.readFully(key);
            for (int i = 0; i < dimension; i++) {
              v[i] = in.readFloat();
            }
          } catch (EOFException e) {
            break;
          }
          vectors.put(java.util.HexFormat.of().formatHex(key), v);
        }
      }
    }
    Files.createDirectories(file.getParent());
    cutTornEntry(file, KEY_BYTES + 4L * dimension);
    this.out = new DataOutputStream(new BufferedOutputStream(
        Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND)));
  }

  /**
   * Cuts a torn last entry off the file, so appending starts at an entry boundary: appending after the torn bytes
   * would shift every later entry, and the next reader would take keys for floats and floats for keys.
   */
  private static void cutTornEntry(Path file, long entryBytes) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    long size = Files.size(file);
    if (size % entryBytes != 0) {
      try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file,
          StandardOpenOption.WRITE)) {
        channel.truncate(size - size % entryBytes);
      }
    }
  }

  /** Opens (or creates) the cache of a plain (parameter-free pooling) model under {@code dir}. */
  public static VectorCache open(Path dir, ModelInfo model) {
    return open(dir, model.backboneSha256().substring(0, 16) + "-" + model.maxTokens() + "-" + model.pooling(),
        model.dimension());
  }

  /**
   * Opens (or creates) a cache under {@code dir}.
   *
   * @param fingerprint identifies everything that determines a vector (for a model bundle: its checksum, which
   *     pins backbone, sequence limit and pooling weights); letters, digits, '-' and '_' only
   */
  public static VectorCache open(Path dir, String fingerprint, int dimension) {
    if (!fingerprint.matches("[A-Za-z0-9_-]+")) {
      throw new IllegalArgumentException("bad cache fingerprint: " + fingerprint);
    }
    try {
      return new VectorCache(dir.resolve(fingerprint + ".vec"), dimension);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot open vector cache in " + dir, e);
    }
  }

  /** The cached vector of a text, or null. */
  public float[] get(String text) {
    return vectors.get(TextHash.sha256(text));
  }

  /** Remembers a vector; written through to disk on {@link #close()} at the latest. */
  public void put(String text, float[] vector) {
    if (vector.length != dimension) {
      throw new IllegalArgumentException("vector has " + vector.length + " dimensions, cache has " + dimension);
    }
    String key = TextHash.sha256(text);
    if (vectors.putIfAbsent(key, vector) == null) {
      try {
        out.write(java.util.HexFormat.of().parseHex(key));
        for (float f : vector) {
          out.writeFloat(f);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  public int size() {
    return vectors.size();
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
