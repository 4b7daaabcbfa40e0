package io.d2search.bundle;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.d2search.embed.BackboneSource;
import io.d2search.rank.IemHead;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * A model bundle's {@code manifest.json} (docs/d2llm-heads.md, "Bundle directory"): what the bundle is, what it
 * was made from, and the checksums that pin its files. Serialised with Jackson, field for field.
 *
 * <p>Immutable (maps are copied into unmodifiable maps; their values are plain JSON values and must not be
 * modified) and thread-safe. {@link #toJson()} is deterministic: components in declaration order, map keys sorted,
 * two-space indentation, {@code \n} line ends.
 *
 * @param formatVersion always {@link #FORMAT_VERSION}
 * @param version this bundle's version, a directory name ({@code [A-Za-z0-9._-]+}), e.g. {@code "0"}
 * @param parent the version this one was trained from; null for version 0
 * @param backbone the transformer under the heads; never null
 * @param dimension d, the backbone's (and the output vectors') dimension
 * @param pooling how token states become vectors; never null
 * @param iem the re-ranking head's shape; null when the bundle has none (search ranks by the HNSW score alone)
 * @param weights the head weights file and its sha256; null only in a manifest handed to
 *     {@link ModelBundle#write}, which fills it in
 * @param training losses and weights, data window, teacher id, as the JSON holds them; null for version 0. Read
 *     the data window with {@link #trainingWindow()}, typed.
 * @param metrics evaluation results; empty when none (never null after construction)
 * @param createdAt ISO-8601 UTC instant of creation; version 0 uses the epoch so it is reproducible
 */
public record Manifest(
    int formatVersion, String version, String parent, BackboneSpec backbone, int dimension, PoolingSpec pooling,
    IemSpec iem, WeightsSpec weights, Map<String, Object> training, Map<String, Object> metrics,
    String createdAt) {

  /** The only format this code reads and writes. */
  public static final int FORMAT_VERSION = 1;

  private static final Pattern VERSION = Pattern.compile("[A-Za-z0-9._-]+");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final String CLASSPATH = "classpath:";

  static final JsonMapper JSON = JsonMapper.builder()
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .defaultPrettyPrinter(new DefaultPrettyPrinter(
              Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
          .withObjectIndenter(new DefaultIndenter("  ", "\n")))
      .enable(SerializationFeature.INDENT_OUTPUT)
      .build();

  public Manifest {
    if (formatVersion != FORMAT_VERSION) {
      throw new IllegalArgumentException(
          "unsupported formatVersion " + formatVersion + " (this code reads " + FORMAT_VERSION + ")");
    }
    requireVersion("version", version);
    if (parent != null) {
      requireVersion("parent", parent);
    }
    Objects.requireNonNull(backbone, "backbone");
    Objects.requireNonNull(pooling, "pooling");
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be >= 1: " + dimension);
    }
    if (pooling.heads() != null && dimension % pooling.heads() != 0) {
      throw new IllegalArgumentException("pooling.heads " + pooling.heads() + " does not divide dimension " + dimension);
    }
    training = training == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(training));
    metrics = metrics == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
  }

  private static void requireVersion(String field, String value) {
    if (value == null || !VERSION.matcher(value).matches()) {
      throw new IllegalArgumentException(field + " must match " + VERSION + ": " + value);
    }
  }

  private static void requireSha256(String field, String value) {
    if (value == null || !SHA256.matcher(value).matches()) {
      throw new IllegalArgumentException(field + " must be 64 lower-case hex digits: " + value);
    }
  }

  /** This manifest with another weights entry. */
  public Manifest withWeights(WeightsSpec newWeights) {
    return new Manifest(formatVersion, version, parent, backbone, dimension, pooling, iem, newWeights, training,
        metrics, createdAt);
  }

  /**
   * The data window of {@link #training()} ({@code training.data}), typed; empty for version 0 and for a training
   * record without one.
   *
   * @throws BundleException if the window holds a value of the wrong type
   */
  public Optional<TrainingWindow> trainingWindow() {
    return TrainingWindow.in(training);
  }

  /**
   * {@code training.trainer.seed}: the seed of the training run, which also drew the window's held-out queries and
   * pseudo-queries; empty when not recorded (version 0).
   *
   * @throws BundleException if it is not an integer
   */
  public OptionalLong trainingSeed() {
    return TrainingWindow.seedIn(training);
  }

  /** The bytes of {@code manifest.json}: deterministic pretty-printed JSON ending with a newline. */
  public byte[] toJson() {
    try {
      return (JSON.writeValueAsString(this) + "\n").getBytes(StandardCharsets.UTF_8);
    } catch (JacksonException e) {
      throw new IllegalStateException("cannot serialise manifest " + version, e);
    }
  }

  /** Parses {@code manifest.json}. @throws BundleException if it is not a valid manifest */
  public static Manifest fromJson(byte[] json) {
    try {
      return JSON.readValue(json, Manifest.class);
    } catch (JacksonException e) {
      throw new BundleException("manifest.json is invalid: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // reading a byte array does no I/O
    }
  }

  /**
   * The backbone a bundle runs on.
   *
   * @param id short name, as {@link BackboneSource#id()}
   * @param artifact Maven coordinates {@code group:artifact:version} of the jar that holds a classpath backbone,
   *     for people; null when unknown or for files. Loading does not use it.
   * @param onnx {@code classpath:<resource>}, or a file path (a relative one resolves against the bundle directory)
   * @param tokenizer {@code tokenizer.json}, located like {@code onnx}
   * @param sha256 SHA-256 (hex) of the ONNX bytes; a bundle refuses to load over any other graph
   * @param maxTokens sequence limit including special tokens, as {@code EmbedderConfig.maxTokens}
   */
  public record BackboneSpec(String id, String artifact, String onnx, String tokenizer, String sha256, int maxTokens) {
    public BackboneSpec {
      Objects.requireNonNull(id, "backbone.id");
      Objects.requireNonNull(onnx, "backbone.onnx");
      Objects.requireNonNull(tokenizer, "backbone.tokenizer");
      requireSha256("backbone.sha256", sha256);
      if (maxTokens < 8 || maxTokens > 8192) {
        throw new IllegalArgumentException("backbone.maxTokens must be in [8, 8192]: " + maxTokens);
      }
    }

    /**
     * Describes a backbone source: classpath locations get the {@code classpath:} prefix and the coordinates of
     * their jar, file paths become absolute.
     *
     * @param sha256 SHA-256 of the source's ONNX bytes, computed by the caller
     */
    public static BackboneSpec of(BackboneSource source, String sha256, int maxTokens) {
      if (source.onClasspath()) {
        return new BackboneSpec(source.id(), ArtifactCoordinates.of(source.onnx()), CLASSPATH + source.onnx(),
            CLASSPATH + source.tokenizer(), sha256, maxTokens);
      }
      return new BackboneSpec(source.id(), null, absolute(source.onnx()), absolute(source.tokenizer()), sha256,
          maxTokens);
    }

    private static String absolute(String file) {
      return Path.of(file).toAbsolutePath().normalize().toString();
    }

    /** Where to read the backbone from, relative file paths resolved against {@code bundleDir}. */
    public BackboneSource source(Path bundleDir) {
      boolean onClasspath = onnx.startsWith(CLASSPATH);
      if (onClasspath != tokenizer.startsWith(CLASSPATH)) {
        throw new BundleException("backbone.onnx and backbone.tokenizer must both be classpath: or both files");
      }
      if (onClasspath) {
        return new BackboneSource(id, onnx.substring(CLASSPATH.length()), tokenizer.substring(CLASSPATH.length()), true);
      }
      return BackboneSource.files(id, bundleDir.resolve(onnx).normalize(), bundleDir.resolve(tokenizer).normalize());
    }

    /**
     * Whether the graph or the tokenizer is a file of the bundle itself (a relative path): a bundle derived from
     * this one must carry copies, since bundles are kept and deleted one by one.
     */
    public boolean inBundle() {
      return !onnx.startsWith(CLASSPATH) && !(Path.of(onnx).isAbsolute() && Path.of(tokenizer).isAbsolute());
    }

    /** Whether this names the same graph and tokenizer location and token limit as {@code other}, checksums aside. */
    boolean sameLocation(BackboneSpec other) {
      return id.equals(other.id) && onnx.equals(other.onnx) && tokenizer.equals(other.tokenizer)
          && maxTokens == other.maxTokens;
    }
  }

  /**
   * How token states become a vector.
   *
   * @param type {@code pma} (the bundle holds {@code pma.*} tensors) or {@code mean} (it holds none)
   * @param heads the PMA's head count, ≥ 1 and dividing the dimension; null for {@code mean}
   */
  public record PoolingSpec(String type, Integer heads) {
    public static final String PMA = "pma";
    public static final String MEAN = "mean";

    public PoolingSpec {
      if (PMA.equals(type)) {
        if (heads == null || heads < 1) {
          throw new IllegalArgumentException("pooling.heads must be >= 1 for pma: " + heads);
        }
      } else if (MEAN.equals(type)) {
        if (heads != null) {
          throw new IllegalArgumentException("pooling.heads must be null for mean: " + heads);
        }
      } else {
        throw new IllegalArgumentException("pooling.type must be pma or mean: " + type);
      }
    }

    public static PoolingSpec pma(int heads) {
      return new PoolingSpec(PMA, heads);
    }

    public static PoolingSpec mean() {
      return new PoolingSpec(MEAN, null);
    }
  }

  /**
   * The re-ranking head's shape.
   *
   * @param input {@code concat} (fc1 reads 2d) or {@code interaction} (4d)
   * @param hidden width of fc1, proj0 and proj1 (512 in the doc)
   */
  public record IemSpec(String input, int hidden) {
    public IemSpec {
      IemHead.Input.fromId(input);
      if (hidden < 1) {
        throw new IllegalArgumentException("iem.hidden must be >= 1: " + hidden);
      }
    }

    public static IemSpec of(IemHead.Input input, int hidden) {
      return new IemSpec(input.id(), hidden);
    }

    /** The parsed {@link #input()}. */
    public IemHead.Input inputKind() {
      return IemHead.Input.fromId(input);
    }
  }

  /**
   * The head weights file.
   *
   * @param file a file name inside the bundle directory (no path separators), {@code heads.safetensors}
   * @param sha256 SHA-256 (hex) of its bytes
   */
  public record WeightsSpec(String file, String sha256) {
    public WeightsSpec {
      if (file == null || file.isEmpty() || file.contains("/") || file.contains("\\") || file.startsWith(".")) {
        throw new IllegalArgumentException("weights.file must be a plain file name: " + file);
      }
      requireSha256("weights.sha256", sha256);
    }
  }
}
