package io.d2search.distill;

import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.embed.TextHash;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backbone token states computed once and kept on disk, keyed by (backbone sha256, maxTokens, sha256 of the text):
 * training the heads reads the same passages every epoch and every refresh, and the backbone is by far the most
 * expensive step.
 *
 * <p>One append-only file per (backbone, maxTokens), {@code <dir>/<backbone sha256>-<maxTokens>.d2ts}, all numbers
 * little endian:
 *
 * <pre>
 * header  "D2TS" · int32 format version (1) · 32 bytes backbone sha256 · int32 maxTokens · int32 dim
 * record  32 bytes sha256 of the UTF-8 text · int32 tokens · tokens·dim float32 (real tokens only, no padding)
 * </pre>
 *
 * <p>Opening scans the record headers (skipping the payloads) to index offsets in memory, about 100 bytes a text;
 * a record cut short by a crash at the end is dropped with a warning. {@link #reader(Path)} streams a file's
 * records without an index. Token states are stored as float32 exactly as ONNX Runtime returned them.
 *
 * <p>Thread-safe (methods synchronise on the cache). Close it to release the file.
 */
public final class TokenStateCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TokenStateCache.class);
  public static final String SUFFIX = ".d2ts";
  private static final byte[] MAGIC = {'D', '2', 'T', 'S'};
  private static final int FORMAT_VERSION = 1;
  private static final int HASH_BYTES = 32;
  static final int HEADER_BYTES = MAGIC.length + 4 + HASH_BYTES + 4 + 4;
  private static final int RECORD_HEADER_BYTES = HASH_BYTES + 4;
  /** Texts per backbone round of {@link #getAll} (one progress step). */
  private static final int PROGRESS_CHUNK = 256;

  private final Path file;
  private final String backboneSha256;
  private final int maxTokens;
  private final int dim;
  private final FileChannel channel;
  private final Map<String, Long> offsets = new HashMap<>();
  private long end;

  private TokenStateCache(Path file, String backboneSha256, int maxTokens, int dim, FileChannel channel) {
    this.file = file;
    this.backboneSha256 = backboneSha256;
    this.maxTokens = maxTokens;
    this.dim = dim;
    this.channel = channel;
  }

  /** The file that holds the token states of this backbone and token limit. */
  public static Path fileFor(Path dir, String backboneSha256, int maxTokens) {
    return dir.resolve(backboneSha256.toLowerCase(java.util.Locale.ROOT) + "-" + maxTokens + SUFFIX);
  }

  /** Opens (or creates) the cache of the backbone an embedder runs. */
  public static TokenStateCache open(Path dir, ModelInfo info) {
    return open(dir, info.backboneSha256(), info.maxTokens(), info.dimension());
  }

  /**
   * Opens (or creates) a cache.
   *
   * @param dir directory of cache files; created if missing
   * @param backboneSha256 hex SHA-256 of the backbone's ONNX bytes
   * @param maxTokens the token limit the states were computed under
   * @param dim size of each token state
   * @throws IllegalStateException if the existing file was written for another backbone, limit or dimension
   * @throws UncheckedIOException if the file cannot be read or created
   */
  public static TokenStateCache open(Path dir, String backboneSha256, int maxTokens, int dim) {
    byte[] backbone = hash(backboneSha256, "backboneSha256");
    if (maxTokens < 1 || dim < 1) {
      throw new IllegalArgumentException("maxTokens and dim must be >= 1: " + maxTokens + ", " + dim);
    }
    Path file = fileFor(dir, backboneSha256, maxTokens);
    FileChannel channel = null;
    try {
      Files.createDirectories(dir);
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      TokenStateCache cache = new TokenStateCache(file, backboneSha256.toLowerCase(java.util.Locale.ROOT), maxTokens,
          dim, channel);
      if (channel.size() == 0) {
        cache.writeHeader(backbone);
      } else {
        cache.checkHeader(backbone);
        cache.scan();
      }
      return cache;
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("Cannot open token state cache " + file, e);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  private void writeHeader(byte[] backbone) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(FORMAT_VERSION).put(backbone).putInt(maxTokens).putInt(dim).flip();
    writeFully(b, 0);
    end = HEADER_BYTES;
  }

  private void checkHeader(byte[] backbone) throws IOException {
    Header h = Header.read(channel, file);
    if (!Arrays.equals(h.backbone, backbone) || h.maxTokens != maxTokens || h.dim != dim) {
      throw new IllegalStateException(file + " holds token states of backbone " + HexFormat.of().formatHex(h.backbone)
          + " (maxTokens " + h.maxTokens + ", dim " + h.dim + "), not of " + backboneSha256 + " (maxTokens "
          + maxTokens + ", dim " + dim + ")");
    }
  }

  private void scan() throws IOException {
    long size = channel.size();
    long pos = HEADER_BYTES;
    ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    byte[] hash = new byte[HASH_BYTES];
    while (pos + RECORD_HEADER_BYTES <= size) {
      head.clear();
      readFully(channel, head, pos);
      head.flip();
      head.get(hash);
      int tokens = head.getInt();
      long payload = (long) tokens * dim * Float.BYTES;
      if (tokens < 1 || pos + RECORD_HEADER_BYTES + payload > size) {
        break;
      }
      offsets.put(HexFormat.of().formatHex(hash), pos);
      pos += RECORD_HEADER_BYTES + payload;
    }
    if (pos != size) {
      log.warn("{}: dropping {} bytes of an incomplete last record (an interrupted write)", file, size - pos);
      channel.truncate(pos);
    }
    end = pos;
  }

  /** The cache file. */
  public Path file() {
    return file;
  }

  /** Number of texts cached. */
  public synchronized int size() {
    return offsets.size();
  }

  /** Whether the token states of this text are cached. */
  public synchronized boolean contains(String text) {
    return offsets.containsKey(TextHash.sha256(text));
  }

  /** The cached token states of this text, if any. */
  public synchronized Optional<TokenSequence> get(String text) {
    Long offset = offsets.get(TextHash.sha256(text));
    if (offset == null) {
      return Optional.empty();
    }
    try {
      ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, head, offset);
      int tokens = head.flip().position(HASH_BYTES).getInt();
      ByteBuffer payload = ByteBuffer.allocate(tokens * dim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, payload, offset + RECORD_HEADER_BYTES);
      float[] data = new float[tokens * dim];
      payload.flip().asFloatBuffer().get(data);
      return Optional.of(new TokenSequence(data, tokens, dim));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + file, e);
    }
  }

  /**
   * Adds a text's token states; does nothing if the text is already cached.
   *
   * @throws IllegalArgumentException if the states have another dimension or more than maxTokens tokens
   */
  public synchronized void put(String text, TokenSequence states) {
    Objects.requireNonNull(states, "states");
    if (states.dim() != dim || states.tokens() > maxTokens) {
      throw new IllegalArgumentException("states " + states + " do not fit this cache (dim " + dim + ", maxTokens "
          + maxTokens + ")");
    }
    String key = TextHash.sha256(text);
    if (offsets.containsKey(key)) {
      return;
    }
    ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER_BYTES + states.data().length * Float.BYTES)
        .order(ByteOrder.LITTLE_ENDIAN);
    b.put(HexFormat.of().parseHex(key)).putInt(states.tokens());
    b.asFloatBuffer().put(states.data());
    b.position(b.limit()).flip();
    try {
      writeFully(b, end);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot append to " + file, e);
    }
    offsets.put(key, end);
    end += b.limit();
  }

  /** As {@link #getOrCompute(List, TokenStateSource)} with the embedder's backbone ({@link Embedder#tokenStates}). */
  public List<TokenSequence> getOrCompute(List<String> texts, Embedder embedder) {
    return getOrCompute(texts, TokenStateSource.of(embedder));
  }

  /**
   * The token states of every text, computing the missing ones with the source in batches of its size, and caching
   * them.
   *
   * @return one sequence per text, in input order (duplicates allowed)
   * @throws IllegalArgumentException if the source computes other states (identity, token limit or dimension)
   */
  public List<TokenSequence> getOrCompute(List<String> texts, TokenStateSource source) {
    if (!source.backboneSha256().equalsIgnoreCase(backboneSha256) || source.maxTokens() != maxTokens
        || source.dimension() != dim) {
      throw new IllegalArgumentException("source computes states " + source.backboneSha256() + " (maxTokens "
          + source.maxTokens() + ", dim " + source.dimension() + "); this cache is for " + backboneSha256
          + " (maxTokens " + maxTokens + ", dim " + dim + ")");
    }
    LinkedHashSet<String> unique = new LinkedHashSet<>();
    for (String t : texts) {
      if (!contains(t)) {
        unique.add(t);
      }
    }
    List<String> missing = new ArrayList<>(unique);
    // Similar lengths in one batch pad little; characters are a good enough proxy for tokens.
    missing.sort(Comparator.comparingInt(String::length));
    int batch = source.batchSize();
    for (int from = 0; from < missing.size(); from += batch) {
      List<String> chunk = missing.subList(from, Math.min(missing.size(), from + batch));
      List<TokenSequence> states = source.compute(chunk);
      for (int i = 0; i < chunk.size(); i++) {
        put(chunk.get(i), states.get(i));
      }
    }
    if (!missing.isEmpty()) {
      log.debug("{}: computed token states of {} texts", file, missing.size());
    }
    List<TokenSequence> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      out.add(get(t).orElseThrow());
    }
    return out;
  }

  /** As {@link #getAll(List, TokenStateSource, String)} with the embedder's backbone. */
  public Map<String, TokenSequence> getAll(List<String> texts, Embedder embedder, String label) {
    return getAll(texts, TokenStateSource.of(embedder), label);
  }

  /**
   * The token states of distinct texts by text, computing the missing ones in chunks with a progress bar, then
   * flushing: what a training set needs, each text's states loaded once and shared by every example using it.
   */
  public Map<String, TokenSequence> getAll(List<String> texts, TokenStateSource source, String label) {
    List<String> distinct = List.copyOf(new LinkedHashSet<>(texts));
    Map<String, TokenSequence> out = new HashMap<>(distinct.size() * 2);
    try (me.tongfei.progressbar.ProgressBar bar = new me.tongfei.progressbar.ProgressBarBuilder().setTaskName(label)
        .setInitialMax(distinct.size()).setStyle(me.tongfei.progressbar.ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(1000).showSpeed().build()) {
      for (int from = 0; from < distinct.size(); from += PROGRESS_CHUNK) {
        List<String> chunk = distinct.subList(from, Math.min(distinct.size(), from + PROGRESS_CHUNK));
        List<TokenSequence> states = getOrCompute(chunk, source);
        for (int i = 0; i < chunk.size(); i++) {
          out.put(chunk.get(i), states.get(i));
        }
        bar.stepBy(chunk.size());
      }
    }
    flush();
    return out;
  }

  /** Forces appended records to disk. */
  public synchronized void flush() {
    try {
      channel.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot flush " + file, e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      channel.force(false);
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot close " + file, e);
    }
  }

  /**
   * One cached text.
   *
   * @param textSha256 hex SHA-256 of the text's UTF-8 bytes
   * @param states its token states
   */
  public record Entry(String textSha256, TokenSequence states) {}

  /**
   * Streams the records of a cache file in file order, one at a time and without an index: memory stays at one
   * record. Stops quietly before an incomplete last record. Not thread-safe.
   */
  public static Reader reader(Path file) {
    return new Reader(file);
  }

  /** A streaming pass over a cache file; see {@link #reader(Path)}. */
  public static final class Reader implements Iterator<Entry>, AutoCloseable {
    private final FileChannel channel;
    private final Path file;
    private final int dim;
    private final int maxTokens;
    private final String backboneSha256;
    private final long size;
    private long pos = HEADER_BYTES;
    private Entry next;

    private Reader(Path file) {
      this.file = file;
      try {
        channel = FileChannel.open(file, StandardOpenOption.READ);
        Header h = Header.read(channel, file);
        dim = h.dim;
        maxTokens = h.maxTokens;
        backboneSha256 = HexFormat.of().formatHex(h.backbone);
        size = channel.size();
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot read token state cache " + file, e);
      }
    }

    /** Hex SHA-256 of the backbone the file was written for. */
    public String backboneSha256() {
      return backboneSha256;
    }

    /** The token limit the states were computed under. */
    public int maxTokens() {
      return maxTokens;
    }

    /** Size of each token state. */
    public int dim() {
      return dim;
    }

    @Override
    public boolean hasNext() {
      if (next == null) {
        next = readNext();
      }
      return next != null;
    }

    @Override
    public Entry next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Entry e = next;
      next = null;
      return e;
    }

    private Entry readNext() {
      if (pos + RECORD_HEADER_BYTES > size) {
        return null;
      }
      try {
        ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, head, pos);
        head.flip();
        byte[] hash = new byte[HASH_BYTES];
        head.get(hash);
        int tokens = head.getInt();
        long payload = (long) tokens * dim * Float.BYTES;
        if (tokens < 1 || pos + RECORD_HEADER_BYTES + payload > size) {
          return null;
        }
        ByteBuffer data = ByteBuffer.allocate((int) payload).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, data, pos + RECORD_HEADER_BYTES);
        float[] values = new float[tokens * dim];
        data.flip().asFloatBuffer().get(values);
        pos += RECORD_HEADER_BYTES + payload;
        return new Entry(HexFormat.of().formatHex(hash), new TokenSequence(values, tokens, dim));
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot read " + file, e);
      }
    }

    @Override
    public void close() {
      closeQuietly(channel);
    }
  }

  private record Header(byte[] backbone, int maxTokens, int dim) {
    static Header read(FileChannel channel, Path file) throws IOException {
      ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      try {
        readFully(channel, b, 0);
      } catch (EOFException e) {
        throw new IllegalStateException(file + " is not a token state cache (shorter than its header)", e);
      }
      b.flip();
      byte[] magic = new byte[MAGIC.length];
      b.get(magic);
      int version = b.getInt();
      if (!Arrays.equals(magic, MAGIC) || version != FORMAT_VERSION) {
        throw new IllegalStateException(file + " is not a version " + FORMAT_VERSION + " token state cache");
      }
      byte[] backbone = new byte[HASH_BYTES];
      b.get(backbone);
      return new Header(backbone, b.getInt(), b.getInt());
    }
  }

  private void writeFully(ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      p += channel.write(b, p);
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      int n = channel.read(b, p);
      if (n < 0) {
        throw new EOFException("end of file at " + p);
      }
      p += n;
    }
  }

  private static byte[] hash(String hex, String what) {
    Objects.requireNonNull(hex, what);
    if (hex.length() != 2 * HASH_BYTES) {
      throw new IllegalArgumentException(what + " must be 64 hex digits: " + hex);
    }
    return HexFormat.of().parseHex(hex);
  }

  private static void closeQuietly(FileChannel c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // already failing; the first error is the one to report
      }
    }
  }
}
