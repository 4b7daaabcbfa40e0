package io.d2search.bundle;

import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.MeanPooling;
import io.d2search.embed.OnnxBackbone;
import io.d2search.embed.PmaHead;
import io.d2search.embed.Pooling;
import io.d2search.embed.TextHash;
import io.d2search.rank.IemHead;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A loaded, verified model bundle: the directory {@code <bundles>/<version>/} with {@code manifest.json} and
 * {@code heads.safetensors} (docs/d2llm-heads.md), and the backbone graph and tokenizer when the bundle carries its
 * own (one that fine-tuned backbone layers). Loading checks the weights file's sha256, the tensors' names and
 * shapes against the manifest, and the backbone ONNX's sha256, and refuses any mismatch with a
 * {@link BundleException} that names it. The bundle's identity is {@link #checksum()}, the sha256 of
 * {@code manifest.json}, which pins everything else. {@link #passageVectorsId()} tells whether two bundles embed
 * passages alike, so that an index built with one serves the other.
 *
 * <p>Immutable and thread-safe; holds no native resources (the backbone is only opened by {@link #embedder}).
 */
public final class ModelBundle {
  public static final String MANIFEST_FILE = "manifest.json";
  public static final String WEIGHTS_FILE = "heads.safetensors";
  /** A backbone graph the bundle carries (one whose weights were tuned or interpolated). */
  public static final String BACKBONE_FILE = "backbone.onnx";
  /** Its tokenizer, copied from the parent's backbone (a bundle with its own graph is self-contained). */
  public static final String TOKENIZER_FILE = "tokenizer.json";
  /** The version of the untrained bundle: PMA in mean initialisation, no IEM. */
  public static final String VERSION_ZERO = "0";
  /** PMA heads of version 0 (the doc's default h). */
  public static final int VERSION_ZERO_HEADS = 8;
  /** Seed of version 0's PMA seed vector, fixed so that version 0 is reproducible byte for byte. */
  public static final long VERSION_ZERO_SEED = 0xD2L;
  /** Version 0 is a function of its backbone alone, so it carries no wall-clock time. */
  static final String VERSION_ZERO_CREATED_AT = "1970-01-01T00:00:00Z";
  /** Names of the tensors that pool token states into a vector (as opposed to the IEM's {@code iem.*}). */
  private static final String POOLING_TENSOR_PREFIX = "pma.";
  /** Marks the weights as PyTorch-layout for HuggingFace tooling. */
  static final Map<String, String> WEIGHTS_METADATA = Map.of("format", "pt");

  private final Path directory;
  private final Manifest manifest;
  private final String checksum;
  private final Pooling pooling;
  private final IemHead iem; // null when the bundle has none
  private final BackboneSource backbone;
  private final String backboneSha256;
  private final String passageVectorsId;

  private ModelBundle(Path directory, Manifest manifest, String checksum, Pooling pooling, IemHead iem,
      BackboneSource backbone, String backboneSha256, String passageVectorsId) {
    this.directory = directory;
    this.manifest = manifest;
    this.checksum = checksum;
    this.pooling = pooling;
    this.iem = iem;
    this.backbone = backbone;
    this.backboneSha256 = backboneSha256;
    this.passageVectorsId = passageVectorsId;
  }

  /**
   * Loads and verifies a bundle. Reads the backbone ONNX once to check its sha256 (about a second for MiniLM).
   *
   * @param dir the bundle directory
   * @throws BundleException if a file is missing or corrupt, or anything does not match the manifest
   */
  public static ModelBundle load(Path dir) {
    byte[] manifestBytes = readFile(dir, MANIFEST_FILE);
    Manifest manifest;
    try {
      manifest = Manifest.fromJson(manifestBytes);
    } catch (BundleException e) {
      throw new BundleException(dir + ": " + e.getMessage(), e);
    }
    if (manifest.weights() == null) {
      throw new BundleException(dir + ": manifest.json has no weights entry");
    }
    byte[] weights = readFile(dir, manifest.weights().file());
    String weightsSha = TextHash.sha256(weights);
    if (!weightsSha.equals(manifest.weights().sha256())) {
      throw new BundleException(dir.resolve(manifest.weights().file()) + " has sha256 " + weightsSha
          + " but manifest weights.sha256 is " + manifest.weights().sha256() + " (corrupt or replaced weights)");
    }
    SortedMap<String, Tensor> tensors;
    Pooling pooling;
    IemHead iem;
    try {
      tensors = Safetensors.decode(weights).tensors();
      HeadTensors.check(manifest, tensors);
      pooling = Manifest.PoolingSpec.PMA.equals(manifest.pooling().type())
          ? HeadTensors.pma(tensors, manifest.pooling().heads())
          : MeanPooling.INSTANCE;
      iem = manifest.iem() == null ? null : HeadTensors.iem(tensors, manifest.iem().inputKind());
    } catch (BundleException | IllegalArgumentException e) {
      throw new BundleException(dir.resolve(manifest.weights().file()) + ": " + e.getMessage(), e);
    }
    BackboneSource backbone = manifest.backbone().source(dir);
    String backboneSha;
    try {
      backboneSha = backbone.onnxSha256();
    } catch (UncheckedIOException e) {
      throw new BundleException(dir + ": backbone " + backbone.id() + " cannot be read: " + e.getMessage(), e);
    }
    if (!backboneSha.equals(manifest.backbone().sha256())) {
      throw new BundleException(dir + ": backbone " + backbone.id() + " at " + backbone.onnx() + " has sha256 "
          + backboneSha + " but manifest backbone.sha256 is " + manifest.backbone().sha256()
          + " (a different graph than the heads were trained on)");
    }
    return new ModelBundle(dir, manifest, TextHash.sha256(manifestBytes), pooling, iem, backbone, backboneSha,
        passageVectorsId(manifest, backboneSha, tensors));
  }

  /**
   * SHA-256 over what decides a passage's vector: the backbone graph's sha256, the token limit (it truncates long
   * passages), the pooling type and heads, and the pooling tensors' bytes (encoded as safetensors, deterministic).
   * The IEM tensors are left out: they re-rank, they do not embed. The tokenizer is taken to go with the graph (a
   * bundle that carries its own graph copies its parent's tokenizer).
   */
  private static String passageVectorsId(Manifest manifest, String backboneSha, SortedMap<String, Tensor> tensors) {
    SortedMap<String, Tensor> poolingTensors = new TreeMap<>();
    tensors.forEach((name, tensor) -> {
      if (name.startsWith(POOLING_TENSOR_PREFIX)) {
        poolingTensors.put(name, tensor);
      }
    });
    String identity = "backbone.sha256=" + backboneSha + "\n"
        + "backbone.maxTokens=" + manifest.backbone().maxTokens() + "\n"
        + "pooling.type=" + manifest.pooling().type() + "\n"
        + "pooling.heads=" + manifest.pooling().heads() + "\n"
        + "pooling.tensors.sha256=" + TextHash.sha256(Safetensors.encode(poolingTensors, Map.of())) + "\n";
    return TextHash.sha256(identity);
  }

  private static byte[] readFile(Path dir, String name) {
    try {
      return Files.readAllBytes(dir.resolve(name));
    } catch (NoSuchFileException e) {
      throw new BundleException(dir + ": no " + name + " (not a model bundle, or an incomplete one)", e);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + dir.resolve(name), e);
    }
  }

  /**
   * Writes a new bundle: {@code heads.safetensors} (tensors in name order, so equal inputs give equal bytes), then
   * {@code manifest.json} with {@code weights} set to that file and its sha256. The files are written to a
   * temporary sibling directory that is renamed to {@code dir} at the end, so a reader never sees half a bundle.
   * The backbone is not read; {@link #load} checks it.
   *
   * @param dir the new bundle's directory; must not exist, or be empty
   * @param manifest what the bundle is; its {@code weights} entry, if any, is replaced
   * @param tensors exactly the tensors the manifest calls for ({@link HeadTensors#expectedShapes})
   * @return the manifest as written
   * @throws BundleException if the tensors do not match the manifest, or {@code dir} already holds a bundle
   * @throws UncheckedIOException if writing fails
   */
  public static Manifest write(Path dir, Manifest manifest, Map<String, Tensor> tensors) {
    return write(dir, manifest, tensors, Map.of());
  }

  /**
   * As {@link #write(Path, Manifest, Map)}, with more files in the bundle (a fine-tuned backbone's graph and
   * tokenizer, which the manifest's {@code backbone} then names by their relative paths), written before the
   * manifest.
   *
   * @param files file name (no directories) → bytes; not {@link #MANIFEST_FILE} or {@link #WEIGHTS_FILE}
   */
  public static Manifest write(Path dir, Manifest manifest, Map<String, Tensor> tensors, Map<String, byte[]> files) {
    Objects.requireNonNull(manifest, "manifest");
    files.keySet().forEach(name -> {
      if (name.equals(MANIFEST_FILE) || name.equals(WEIGHTS_FILE) || !Path.of(name).getFileName().toString()
          .equals(name) || name.startsWith(".")) {
        throw new IllegalArgumentException("not a name for an extra bundle file: " + name);
      }
    });
    HeadTensors.check(manifest, tensors);
    Path target = requireWritable(dir);
    byte[] weights = Safetensors.encode(tensors, WEIGHTS_METADATA);
    Manifest complete = manifest.withWeights(new Manifest.WeightsSpec(WEIGHTS_FILE, TextHash.sha256(weights)));
    Path staging = target.resolveSibling(
        "." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    try {
      Files.createDirectories(target.getParent());
      Files.createDirectory(staging);
      Files.write(staging.resolve(WEIGHTS_FILE), weights);
      for (Map.Entry<String, byte[]> file : files.entrySet()) {
        Files.write(staging.resolve(file.getKey()), file.getValue());
      }
      Files.write(staging.resolve(MANIFEST_FILE), complete.toJson());
      Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      return complete;
    } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
      deleteQuietly(staging);
      throw new BundleException(target + " was created by someone else meanwhile; bundles are immutable", e);
    } catch (IOException e) {
      deleteQuietly(staging);
      throw new UncheckedIOException("Cannot write bundle " + target, e);
    }
  }

  /**
   * The backbone of a new bundle that carries {@code graph} and {@code parent}'s tokenizer as its own files (added
   * to {@code files}, for {@link #write(Path, Manifest, Map, Map)}); artifact and token limit stay the parent's.
   */
  public static Manifest.BackboneSpec carriedBackbone(ModelBundle parent, String id, byte[] graph,
      Map<String, byte[]> files) {
    files.put(BACKBONE_FILE, graph);
    files.put(TOKENIZER_FILE, parent.backbone().tokenizerBytes());
    Manifest.BackboneSpec from = parent.manifest().backbone();
    return new Manifest.BackboneSpec(id, from.artifact(), BACKBONE_FILE, TOKENIZER_FILE, TextHash.sha256(graph),
        from.maxTokens());
  }

  /**
   * Checks that a bundle can be written to {@code dir}, as {@link #write} will: commands call it before hours of
   * training, not after.
   *
   * @return the directory, absolute and normalised
   * @throws BundleException if {@code dir} exists and is not an empty directory (bundles are immutable)
   */
  public static Path requireWritable(Path dir) {
    Path target = dir.toAbsolutePath().normalize();
    if (Files.exists(target) && !isEmptyDirectory(target)) {
      throw new BundleException(target + " already exists; bundles are immutable, write a new version");
    }
    return target;
  }

  private static boolean isEmptyDirectory(Path dir) {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.findAny().isEmpty();
    } catch (IOException e) {
      return false; // not a readable directory: let the caller refuse it
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException ignored) {
      // best effort: a leftover hidden staging directory is harmless
    }
  }

  /**
   * Version 0 of a backbone: PMA in the doc's "mean" initialisation ({@link PmaHead#meanInit} with
   * {@link #VERSION_ZERO_HEADS} heads and {@link #VERSION_ZERO_SEED}), no IEM, no parent, no training, no metrics.
   * Created in {@code <bundlesDir>/0} if absent, then loaded. Deterministic: the same backbone and token limit give
   * byte-identical files, and so the same {@link #checksum()}, in any directory.
   *
   * <p>Creating it opens the backbone once on the CPU to learn its dimension.
   *
   * @throws BundleException if {@code <bundlesDir>/0} exists but was made for another backbone or token limit, or
   *     does not verify
   */
  public static ModelBundle versionZero(Path bundlesDir, BackboneSource backbone, int maxTokens) {
    Path dir = bundlesDir.resolve(VERSION_ZERO);
    if (!Files.exists(dir.resolve(MANIFEST_FILE))) {
      byte[] onnx = backbone.onnxBytes();
      int d;
      try (OnnxBackbone session = OnnxBackbone.create(onnx, 1, ExecutionProvider.CPU)) {
        d = session.dimension();
      }
      Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, VERSION_ZERO, null,
          Manifest.BackboneSpec.of(backbone, TextHash.sha256(onnx), maxTokens), d,
          Manifest.PoolingSpec.pma(VERSION_ZERO_HEADS), null, null, null, Map.of(), VERSION_ZERO_CREATED_AT);
      try {
        write(dir, manifest, HeadTensors.of(PmaHead.meanInit(d, VERSION_ZERO_HEADS, VERSION_ZERO_SEED)));
      } catch (BundleException e) {
        if (!Files.exists(dir.resolve(MANIFEST_FILE))) {
          throw e;
        } // else another process wrote it first; load and check theirs
      }
    }
    ModelBundle bundle = load(dir);
    Manifest.BackboneSpec made = bundle.manifest().backbone();
    Manifest.BackboneSpec asked = Manifest.BackboneSpec.of(backbone, made.sha256(), maxTokens);
    if (!made.sameLocation(asked) || !VERSION_ZERO.equals(bundle.version())) {
      throw new BundleException(dir + " holds version " + bundle.version() + " of backbone " + made.id() + " ("
          + made.onnx() + ", maxTokens " + made.maxTokens() + "), not version 0 of " + asked.id() + " ("
          + asked.onnx() + ", maxTokens " + maxTokens + ")");
    }
    return bundle;
  }

  /**
   * An embedder that runs this bundle: its backbone and token limit, its pooling, its version stamped on every
   * vector. Batch size, threads and execution provider come from {@code overrides}; its version and token limit are
   * ignored, and so is its backbone unless it is the int8 variant of this bundle's ({@link
   * BackboneSource#int8Variant()}): a query encoder that chose the quantized graph gets it for every bundle that has
   * one, and the bundle's own graph for any other (a tuned backbone). The caller closes the embedder.
   *
   * @throws BundleException if the backbone's bytes changed since {@link #load}, or its dimension is not the
   *     manifest's
   */
  public Embedder embedder(EmbedderConfig overrides) {
    return embedder(overrides, version());
  }

  /**
   * An embedder that runs this bundle but stamps its vectors with {@code vectorsVersion}: the version whose passage
   * vectors this bundle shares (a HEADS release over a FULL one embeds exactly as its parent, and its vectors belong
   * in the parent's index).
   *
   * @see #embedder(EmbedderConfig)
   */
  public Embedder embedder(EmbedderConfig overrides, String vectorsVersion) {
    boolean int8 = backbone.int8Variant().filter(overrides.backbone()::equals).isPresent();
    EmbedderConfig config = new EmbedderConfig(vectorsVersion, int8 ? overrides.backbone() : backbone,
        manifest.backbone().maxTokens(), overrides.batchSize(), overrides.intraOpThreads(), overrides.provider());
    Embedder embedder = Embedder.create(config, pooling);
    String problem = null;
    if (!int8 && !embedder.info().backboneSha256().equals(backboneSha256)) {
      problem = "backbone " + backbone.onnx() + " changed since the bundle was loaded";
    } else if (embedder.info().dimension() != manifest.dimension()) {
      problem = "backbone outputs dimension " + embedder.info().dimension() + ", manifest says "
          + manifest.dimension();
    }
    if (problem != null) {
      embedder.close();
      throw new BundleException(directory + ": " + problem);
    }
    return embedder;
  }

  /** The bundle directory it was loaded from. */
  public Path directory() {
    return directory;
  }

  /** The parsed {@code manifest.json}. */
  public Manifest manifest() {
    return manifest;
  }

  /** {@code manifest().trainingWindow()}: the data the bundle was distilled from; empty for version 0. */
  public Optional<TrainingWindow> trainingWindow() {
    return manifest.trainingWindow();
  }

  /** {@code manifest().version()}. */
  public String version() {
    return manifest.version();
  }

  /** SHA-256 (hex) of {@code manifest.json}'s bytes: the bundle's identity, carried by a {@code ModelRelease}. */
  public String checksum() {
    return checksum;
  }

  /** A {@link PmaHead} for pooling {@code pma}, {@link MeanPooling#INSTANCE} for {@code mean}. */
  public Pooling pooling() {
    return pooling;
  }

  /** The re-ranking head; empty when the bundle has none (version 0). */
  public Optional<IemHead> iem() {
    return Optional.ofNullable(iem);
  }

  /** Where the backbone is read from. */
  public BackboneSource backbone() {
    return backbone;
  }

  /** SHA-256 of the backbone ONNX, computed (and checked against the manifest) once at load. */
  public String backboneSha256() {
    return backboneSha256;
  }

  /**
   * Identifies the passage vectors this bundle produces: two bundles with the same id embed every text to the same
   * vector (same backbone graph and token limit, byte-identical pooling: type, heads and {@code pma.*} tensors), so
   * an index built with one serves the other. A release that changes only the IEM head (kind HEADS) keeps it; one
   * that changes the backbone or the pooling (FULL) changes it. Computed at {@link #load}; SHA-256 hex.
   */
  public String passageVectorsId() {
    return passageVectorsId;
  }

  @Override
  public String toString() {
    return "ModelBundle[version=" + version() + ", checksum=" + checksum + ", pooling=" + pooling.name() + ", iem="
        + (iem == null ? "none" : iem.input().id()) + ", dir=" + directory + "]";
  }
}
