package io.d2search.serve;

import io.d2search.bundle.BundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseStage;
import io.d2search.rank.IemHead;
import io.d2search.schemas.Topics;
import java.net.URI;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a {@code ModelRelease} into a hot swap of the re-ranker, a switch to other passage vectors, or a refusal; no
 * Kafka here ({@link ReleaseWatcher} reads the topic). Rules, in order:
 *
 * <ol>
 *   <li>A {@code CANARY} release over the serving passage vectors, checked as a HEADS release is (bundle, vectors,
 *       IEM head), becomes the canary: {@link SearchService#setCanary} interleaves it with the serving model in a share
 *       of searches. A tombstone of the canary key withdraws it ({@link #withdrawCanary}); a CURRENT release of the
 *       canary's version (a promotion) ends it too.
 *   <li>The release already serving, or already being built (same version and sha256), is ignored.
 *   <li>The bundle is opened from the {@link BundleStore} by the release's URI and sha256, verified; a missing,
 *       corrupt or other bundle is refused. It must be the version the release names.
 *   <li>A release over the serving passage vectors (its {@code embeddingsTopic} is the serving space's) must keep the
 *       {@link ModelBundle#passageVectorsId()} of the bundle that built that space and have an IEM head of its
 *       dimension (the bundle the service started with, released again, is the one exception to the head: a
 *       roll-back); then {@link SearchService#adopt} swaps the re-ranker between two searches.
 *   <li>A release over other passage vectors (a FULL release, {@code embeddings.<version>}) goes to
 *       {@link VectorSpaces}, which builds its index beside the serving one and switches searches to it once it
 *       covers every live passage: counted pending now, adopted at the switch. Without {@link VectorSpaces} such a
 *       release is refused.
 * </ol>
 *
 * <p>Each refusal is one WARN line and leaves the serving model as it was. Outcomes are counted by the
 * {@link ReleaseLedger}. One thread (the watcher's) applies releases, the switch calls back from another; both are
 * synchronized. {@link #servingBundle()} may be read from any thread.
 */
public final class ReleaseAdopter {
  private static final Logger log = LoggerFactory.getLogger(ReleaseAdopter.class);

  private final SearchService search;
  private final ModelBundle initial;
  private final BundleStore store;
  private final ReleaseLedger ledger;
  private final VectorSpaces spaces;
  private volatile ModelBundle serving;
  /** The bundle whose embedder built the serving vector space: its passage vectors are the index's. */
  private ModelBundle spaceBundle;
  /** The release whose vectors are being built (version and sha256), or null. */
  private ModelRelease building;

  /**
   * An adopter of HEADS releases only: a release with other passage vectors is refused.
   *
   * @see #ReleaseAdopter(SearchService, ModelBundle, BundleStore, ReleaseLedger, VectorSpaces)
   */
  ReleaseAdopter(SearchService search, ModelBundle initial, BundleStore store, ReleaseLedger ledger) {
    this(search, initial, store, ledger, null);
  }

  /**
   * @param search the service whose re-ranker releases replace
   * @param initial the bundle it serves now: the one its embedder runs and its index was embedded with
   * @param store where released bundles are opened
   * @param ledger counts the outcomes
   * @param spaces builds the vector spaces of releases with other passage vectors; null refuses those
   * @throws IllegalArgumentException if {@code search} does not serve {@code initial}'s version
   */
  ReleaseAdopter(SearchService search, ModelBundle initial, BundleStore store, ReleaseLedger ledger,
      VectorSpaces spaces) {
    this.search = Objects.requireNonNull(search, "search");
    this.initial = Objects.requireNonNull(initial, "initial");
    this.store = Objects.requireNonNull(store, "store");
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    this.spaces = spaces;
    if (!initial.version().equals(search.serving().version())) {
      throw new IllegalArgumentException("the search service serves model " + search.serving().version()
          + ", not bundle " + initial.version());
    }
    this.serving = initial;
    this.spaceBundle = initial;
  }

  /** The bundle whose re-ranker serves now. */
  public ModelBundle servingBundle() {
    return serving;
  }

  /**
   * Adopts, starts building, refuses or ignores a release (rules in the class doc). Never throws for a bad release
   * or bundle.
   *
   * @return what became of it, as counted
   */
  public synchronized ReleaseOutcome apply(ModelRelease release) {
    String version = release.getVersion();
    if (release.getStage() == ReleaseStage.CANARY) {
      return applyCanary(release);
    }
    ModelBundle current = serving;
    if (version.equals(current.version()) && release.getSha256().equals(current.checksum())) {
      log.info("Model release {} is already serving", version);
      return ledger.ignored(version, "already serving");
    }
    if (building != null && version.equals(building.getVersion())
        && release.getSha256().equals(building.getSha256())
        && release.getEmbeddingsTopic().equals(building.getEmbeddingsTopic())) {
      return ledger.ignored(version, "its vectors are being built already");
    }
    long start = System.nanoTime();
    String problem;
    ModelBundle bundle = null;
    boolean sameVectors = release.getEmbeddingsTopic().equals(search.serving().space().topic());
    if (version.equals(current.version())) {
      problem = "release " + version + " has sha256 " + release.getSha256() + " but the serving bundle "
          + version + " has " + current.checksum() + "; bundles are immutable";
    } else {
      try {
        bundle = open(release);
        problem = sameVectors ? incompatibility(release, bundle) : otherVectorsProblem(release, bundle);
      } catch (RuntimeException e) { // BundleException, an unreadable file, a malformed URI
        problem = e.getMessage() == null ? e.toString() : e.getMessage();
      }
    }
    if (problem != null) {
      log.warn("Refused model release {} ({} {}): {}; still serving {}", version, release.getKind(),
          release.getBundleUri(), problem, current.version());
      return ledger.refused(version, problem);
    }
    if (!sameVectors) {
      return build(release, bundle, start);
    }
    search.adopt(version, bundle.iem().orElse(null));
    serving = bundle;
    if (search.canary().map(c -> c.version().equals(version)).orElse(false)) {
      search.setCanary(null, null); // promoted: it serves every search now
      log.info("Canary {} promoted: it ranks every search", version);
    }
    long nanos = System.nanoTime() - start;
    log.info("Adopted model release {} (parent {}): re-ranking with {} in place of {}, swapped in {} ms", version,
        release.getParentVersion(), bundle.iem().map(Object::toString).orElse("no IEM head"), current.version(),
        nanos / 1_000_000);
    return ledger.adopted(version, current.version(), nanos);
  }

  /** A canary release: interleaved with the serving model in a share of searches, or refused. */
  private ReleaseOutcome applyCanary(ModelRelease release) {
    String version = release.getVersion();
    ModelBundle current = serving;
    if (version.equals(current.version())) {
      return ledger.ignored(version, "the canary is the version serving every search");
    }
    if (search.canary().map(c -> c.version().equals(version)).orElse(false)) {
      return ledger.ignored(version, "already the canary");
    }
    String problem;
    ModelBundle bundle = null;
    if (!release.getEmbeddingsTopic().equals(search.serving().space().topic())) {
      problem = "canary " + version + " ranks over " + release.getEmbeddingsTopic() + ", the serving model over "
          + search.serving().space().topic() + "; a canary is interleaved over the serving passage vectors only";
    } else {
      try {
        bundle = open(release);
        problem = incompatibility(release, bundle);
        if (problem == null && bundle.iem().isEmpty()) {
          problem = "canary " + version + " has no IEM head";
        }
      } catch (RuntimeException e) {
        problem = e.getMessage() == null ? e.toString() : e.getMessage();
      }
    }
    if (problem != null) {
      log.warn("Refused canary release {} ({}): {}; no canary", version, release.getBundleUri(), problem);
      return ledger.refused(version, problem);
    }
    search.setCanary(version, bundle.iem().orElseThrow());
    log.info("Canary release {} interleaved with {} in {}% of searches", version, current.version(),
        Math.round(search.config().canaryShare() * 100));
    return ledger.canary(version, "interleaved with " + current.version());
  }

  /** The canary key was tombstoned: the canary (if any) stops being interleaved. */
  public synchronized void withdrawCanary(String where) {
    search.canary().ifPresent(c -> {
      search.setCanary(null, null);
      log.info("Canary {} withdrawn ({}): every search ranks with {}", c.version(), where, serving.version());
    });
  }

  /** Hands a release with other passage vectors to {@link VectorSpaces}; adopted when searches switch. */
  private ReleaseOutcome build(ModelRelease release, ModelBundle bundle, long start) {
    String version = release.getVersion();
    String topic = release.getEmbeddingsTopic();
    String vectors = vectorsVersion(topic);
    try {
      spaces.prepare(version, bundle, vectors, topic, () -> covered(release, bundle, start));
    } catch (RuntimeException e) {
      String problem = "cannot build the vectors of release " + version + " from " + topic + ": " + e;
      log.warn("Refused model release {}: {}; still serving {}", version, problem, serving.version());
      return ledger.refused(version, problem);
    }
    building = release;
    return ledger.pending(version, "building vectors " + vectors + " from " + topic);
  }

  /**
   * Called by {@link VectorSpaces} once the release's vectors cover the serving ones: switches searches to them and
   * counts the adoption under this adopter's lock, so no release is applied between the two.
   */
  private synchronized void covered(ModelRelease release, ModelBundle bundle, long start) {
    spaces.switchTo(release.getVersion(), () -> {
      ModelBundle replaced = serving;
      serving = bundle;
      spaceBundle = bundle;
      if (building != null && building.getVersion().equals(release.getVersion())) {
        building = null;
      }
      long nanos = System.nanoTime() - start;
      log.info("Adopted model release {} (parent {}) with its own passage vectors, {} s after it was read",
          release.getVersion(), release.getParentVersion(), nanos / 1_000_000_000);
      ledger.adopted(release.getVersion(), replaced.version(), nanos);
    }); // false: replaced by a later release, or behind again (checked again later)
  }

  /** The version a topic's vectors are stamped with: the service's own for {@code embeddings}. */
  private String vectorsVersion(String topic) {
    if (topic.equals(Topics.EMBEDDINGS)) {
      return initial.version();
    }
    return Topics.versionOfEmbeddingsTopic(topic);
  }

  /** Why a release with other passage vectors cannot be built; null when it can. */
  private String otherVectorsProblem(ModelRelease release, ModelBundle bundle) {
    String version = release.getVersion();
    String topic = release.getEmbeddingsTopic();
    if (spaces == null) {
      return "release " + version + " ranks over other passage vectors (" + topic + "); this service does not build"
          + " other vector spaces";
    }
    if (!bundle.version().equals(version)) {
      return "release " + version + " names bundle " + bundle.directory() + ", which is version " + bundle.version();
    }
    if (!topic.equals(Topics.EMBEDDINGS) && Topics.versionOfEmbeddingsTopic(topic) == null) {
      return "release " + version + " names embeddings topic " + topic + ", not " + Topics.EMBEDDINGS_VERSION_PREFIX
          + "<version>";
    }
    if (topic.equals(Topics.EMBEDDINGS) && !bundle.passageVectorsId().equals(initial.passageVectorsId())) {
      return "release " + version + " ranks over " + Topics.EMBEDDINGS + " but does not embed passages as model "
          + initial.version() + " does";
    }
    if (bundle.iem().isPresent() && bundle.iem().get().dimension() != bundle.manifest().dimension()) {
      return "release " + version + " has an IEM head for dimension " + bundle.iem().get().dimension()
          + ", its vectors have " + bundle.manifest().dimension();
    }
    return null;
  }
  /**
   * A CURRENT release that a later one replaced before it was applied (while catching up with the topic, or two
   * in one poll): only the latest counts.
   */
  ReleaseOutcome superseded(ModelRelease release) {
    log.debug("Model release {} was superseded before it was applied", release.getVersion());
    return ledger.ignored(release.getVersion(), "superseded by a later release");
  }

  /** The bundle the service started with, released again (a roll-back); else the one in the store. */
  private ModelBundle open(ModelRelease release) {
    if (release.getVersion().equals(initial.version()) && release.getSha256().equals(initial.checksum())) {
      return initial;
    }
    return store.open(URI.create(release.getBundleUri()), release.getSha256());
  }

  /** Why the bundle cannot replace the serving re-ranker over this index; null when it can. */
  private String incompatibility(ModelRelease release, ModelBundle bundle) {
    String version = release.getVersion();
    if (!bundle.version().equals(version)) {
      return "release " + version + " names bundle " + bundle.directory() + ", which is version " + bundle.version();
    }
    if (!bundle.passageVectorsId().equals(spaceBundle.passageVectorsId())) {
      return "release " + version + " names the serving embeddings topic " + release.getEmbeddingsTopic()
          + " but does not embed passages as model " + spaceBundle.version() + " does";
    }
    if (bundle == initial) {
      return null;
    }
    if (bundle.iem().isEmpty()) {
      return "release " + version + " has no IEM head; a HEADS release brings a new one";
    }
    IemHead iem = bundle.iem().get();
    int dimension = search.serving().space().dimension();
    if (iem.dimension() != dimension) {
      return "release " + version + " has an IEM head for dimension " + iem.dimension() + ", the index holds "
          + dimension;
    }
    return null;
  }
}
