package io.d2search.bundle;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format, float32 only:
 * an 8-byte little-endian header length n, n bytes of JSON
 * {@code {"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}}}
 * (padded with spaces to a multiple of 8), then the tensors' little-endian bytes, offsets relative to the end of
 * the header.
 *
 * <p>Writing is deterministic: metadata and tensors in name order, tensor data in the same order, compact JSON.
 * Equal inputs give equal bytes, so a weights file's sha256 identifies its content. Reading is strict: a truncated,
 * padded, overlapping or otherwise malformed file is refused with a {@link BundleException} that says why.
 *
 * <p>Stateless and thread-safe.
 */
public final class Safetensors {
  /** The reference implementation refuses larger headers too. */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  static final String METADATA = "__metadata__";
  private static final String F32 = "F32";
  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private Safetensors() {}

  /**
   * A decoded file.
   *
   * @param tensors by name, sorted, unmodifiable
   * @param metadata the {@code __metadata__} strings, sorted, unmodifiable; empty when absent
   */
  public record Contents(SortedMap<String, Tensor> tensors, SortedMap<String, String> metadata) {
    public Contents {
      tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
      metadata = Collections.unmodifiableSortedMap(new TreeMap<>(metadata));
    }
  }

  /**
   * Encodes tensors and metadata.
   *
   * @param tensors by name; names must be non-empty and not {@code __metadata__}
   * @param metadata free-form strings stored in the header; may be empty
   * @throws IllegalArgumentException for a bad name, or if the result would exceed 2 GiB
   */
  public static byte[] encode(Map<String, Tensor> tensors, Map<String, String> metadata) {
    SortedMap<String, Tensor> sorted = new TreeMap<>(tensors);
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject(METADATA);
      new TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
      String name = e.getKey();
      if (name.isEmpty() || name.equals(METADATA)) {
        throw new IllegalArgumentException("invalid tensor name '" + name + "'");
      }
      ObjectNode entry = header.putObject(name);
      entry.put("dtype", F32);
      ArrayNode shape = entry.putArray("shape");
      for (int s : e.getValue().shape()) {
        shape.add(s);
      }
      long end = offset + 4L * e.getValue().size();
      entry.putArray("data_offsets").add(offset).add(end);
      offset = end;
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (JacksonException e) {
      throw new IllegalStateException("cannot serialise a safetensors header", e);
    }
    int headerBytes = (json.length + 7) / 8 * 8; // the reference writer aligns the data to 8 bytes
    long total = 8L + headerBytes + offset;
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("safetensors file of " + total + " bytes exceeds 2 GiB");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(headerBytes).put(json);
    for (int i = json.length; i < headerBytes; i++) {
      out.put((byte) ' ');
    }
    for (Tensor t : sorted.values()) {
      for (float v : t.data()) {
        out.putFloat(v);
      }
    }
    return out.array();
  }

  /**
   * Decodes a whole file.
   *
   * @throws BundleException if the bytes are not a well-formed float32 safetensors file
   */
  public static Contents decode(byte[] bytes) {
    if (bytes.length < 8) {
      throw new BundleException("not a safetensors file: " + bytes.length + " bytes, too short for the header length");
    }
    ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long n = buffer.getLong(0);
    if (n < 2 || n > MAX_HEADER_BYTES || n > bytes.length - 8L) {
      throw new BundleException("not a safetensors file: header length " + n + " is invalid for a file of "
          + bytes.length + " bytes (truncated or not safetensors)");
    }
    if (bytes[8] != '{') {
      throw new BundleException("not a safetensors file: the header does not start with '{'");
    }
    JsonNode header;
    try {
      header = JSON.readTree(bytes, 8, (int) n);
    } catch (JacksonException e) {
      throw new BundleException("safetensors header is not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // reading a byte array does no I/O
    }
    if (!(header instanceof ObjectNode)) {
      throw new BundleException("safetensors header is not a JSON object");
    }
    int dataStart = 8 + (int) n;
    long dataLength = bytes.length - (long) dataStart;
    SortedMap<String, String> metadata = new TreeMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<String, JsonNode> field : header.properties()) {
      if (field.getKey().equals(METADATA)) {
        readMetadata(field.getValue(), metadata);
      } else {
        entries.add(Entry.parse(field.getKey(), field.getValue(), dataLength));
      }
    }
    // The data section must be covered exactly: no gap, no overlap, nothing after the last tensor.
    entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long expected = 0;
    for (Entry e : entries) {
      if (e.begin != expected) {
        throw new BundleException("safetensors tensor " + e.name + " starts at byte " + e.begin + " of the data, expected "
            + expected + " (overlapping or missing data)");
      }
      expected = e.end;
    }
    if (expected != dataLength) {
      throw new BundleException("safetensors data section has " + dataLength + " bytes but the tensors cover "
          + expected + " (truncated or trailing bytes)");
    }
    SortedMap<String, Tensor> tensors = new TreeMap<>();
    for (Entry e : entries) {
      float[] values = new float[(int) ((e.end - e.begin) / 4)];
      FloatBuffer floats = ByteBuffer.wrap(bytes, dataStart + (int) e.begin, (int) (e.end - e.begin))
          .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      floats.get(values);
      tensors.put(e.name, new Tensor(e.shape, values));
    }
    return new Contents(tensors, metadata);
  }

  private static void readMetadata(JsonNode node, Map<String, String> into) {
    if (!node.isObject()) {
      throw new BundleException("safetensors " + METADATA + " is not a JSON object");
    }
    for (Map.Entry<String, JsonNode> m : node.properties()) {
      if (!m.getValue().isTextual()) {
        throw new BundleException("safetensors " + METADATA + "." + m.getKey() + " is not a string");
      }
      into.put(m.getKey(), m.getValue().textValue());
    }
  }

  /** One tensor's header entry. */
  private record Entry(String name, int[] shape, long begin, long end) {

    static Entry parse(String name, JsonNode node, long dataLength) {
      if (!node.isObject()) {
        throw new BundleException("safetensors entry " + name + " is not a JSON object");
      }
      JsonNode dtype = node.get("dtype");
      if (dtype == null || !F32.equals(dtype.asText())) {
        throw new BundleException("safetensors tensor " + name + " has dtype " + dtype + "; only F32 is supported");
      }
      JsonNode shapeNode = node.get("shape");
      if (shapeNode == null || !shapeNode.isArray()) {
        throw new BundleException("safetensors tensor " + name + " has no shape array");
      }
      int[] shape = new int[shapeNode.size()];
      long size = 1;
      for (int i = 0; i < shape.length; i++) {
        JsonNode s = shapeNode.get(i);
        if (!s.isIntegralNumber() || !s.canConvertToInt() || s.intValue() < 0) {
          throw new BundleException("safetensors tensor " + name + " has an invalid shape " + shapeNode);
        }
        shape[i] = s.intValue();
        size *= shape[i];
      }
      JsonNode offsets = node.get("data_offsets");
      if (offsets == null || !offsets.isArray() || offsets.size() != 2
          || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
          || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
        throw new BundleException("safetensors tensor " + name + " has invalid data_offsets " + offsets);
      }
      long begin = offsets.get(0).longValue();
      long end = offsets.get(1).longValue();
      if (begin < 0 || end < begin || end > dataLength) {
        throw new BundleException("safetensors tensor " + name + " has data_offsets [" + begin + ", " + end
            + "] outside the " + dataLength + "-byte data section (truncated file?)");
      }
      if (end - begin != 4 * size) {
        throw new BundleException("safetensors tensor " + name + " has " + (end - begin) + " bytes, its shape "
            + shapeNode + " needs " + 4 * size);
      }
      if (node.size() != 3) {
        throw new BundleException("safetensors tensor " + name + " has unexpected fields: " + node);
      }
      return new Entry(name, shape, begin, end);
    }
  }

  /**
   * Writes {@link #encode encoded} tensors to a file, replacing it.
   *
   * @throws UncheckedIOException if the file cannot be written
   */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
    try {
      Files.write(file, encode(tensors, metadata));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file, e);
    }
  }

  /**
   * Reads and {@link #decode decodes} a file.
   *
   * @throws UncheckedIOException if the file cannot be read
   * @throws BundleException if it is not a well-formed float32 safetensors file
   */
  public static Contents read(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + file, e);
    }
    try {
      return decode(bytes);
    } catch (BundleException e) {
      throw new BundleException(file + ": " + e.getMessage(), e);
    }
  }
}
