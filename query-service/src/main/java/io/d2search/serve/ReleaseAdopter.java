package io.d2search.serve;

import io.d2search.bundle.BundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.rank.IemHead;
import java.net.URI;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a {@code ModelRelease} into a hot swap of the re-ranker, or into a refusal; no Kafka here
 * ({@link ReleaseWatcher} reads the topic). Rules, in order:
 *
 * <ol>
 *   <li>A {@code CANARY} release is ignored (canaries are not served yet), logged once per version.
 *   <li>The release already serving (same version and sha256) is ignored.
 *   <li>A {@code FULL} release is refused: its passage vectors differ from the index's, and re-embedding is not
 *       supported yet.
 *   <li>The bundle is opened from the {@link BundleStore} by the release's URI and sha256, verified; a missing,
 *       corrupt or other bundle is refused.
 *   <li>It must be the version the release names, keep the serving bundle's {@link ModelBundle#passageVectorsId()}
 *       (the index stays valid), and have an IEM head of the index's dimension. The bundle the service started with
 *       is the one exception to the head: released again, it is served again (a roll-back), head or not.
 *   <li>Then {@link SearchService#adopt} swaps the re-ranker between two searches.
 * </ol>
 *
 * <p>Each refusal is one WARN line and leaves the serving model as it was. Outcomes are counted by the
 * {@link ReleaseLedger}. Not thread-safe: one thread (the watcher's) applies releases; {@link #servingBundle()} may
 * be read from any thread.
 */
public final class ReleaseAdopter {
  private static final Logger log = LoggerFactory.getLogger(ReleaseAdopter.class);

  private final SearchService search;
  private final ModelBundle initial;
  private final BundleStore store;
  private final ReleaseLedger ledger;
  private final Set<String> loggedCanaries = new HashSet<>();
  private volatile ModelBundle serving;

  /**
   * @param search the service whose re-ranker releases replace
   * @param initial the bundle it serves now: the one its embedder runs and its index was embedded with
   * @param store where released bundles are opened
   * @param ledger counts the outcomes
   * @throws IllegalArgumentException if {@code search} does not serve {@code initial}'s version
   */
  ReleaseAdopter(SearchService search, ModelBundle initial, BundleStore store, ReleaseLedger ledger) {
    this.search = Objects.requireNonNull(search, "search");
    this.initial = Objects.requireNonNull(initial, "initial");
    this.store = Objects.requireNonNull(store, "store");
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    if (!initial.version().equals(search.serving().version())) {
      throw new IllegalArgumentException("the search service serves model " + search.serving().version()
          + ", not bundle " + initial.version());
    }
    this.serving = initial;
  }

  /** The bundle whose re-ranker serves now. */
  public ModelBundle servingBundle() {
    return serving;
  }

  /**
   * Adopts, refuses or ignores a release (rules in the class doc). Never throws for a bad release or bundle.
   *
   * @return what became of it, as counted
   */
  public ReleaseOutcome apply(ModelRelease release) {
    String version = release.getVersion();
    if (release.getStage() == ReleaseStage.CANARY) {
      if (loggedCanaries.add(version)) {
        log.info("Ignoring canary model release {}: canaries are not served yet", version);
      }
      return ledger.ignored(version, "canary releases are not served yet");
    }
    ModelBundle current = serving;
    if (version.equals(current.version()) && release.getSha256().equals(current.checksum())) {
      log.info("Model release {} is already serving", version);
      return ledger.ignored(version, "already serving");
    }
    long start = System.nanoTime();
    String problem;
    ModelBundle bundle = null;
    if (release.getKind() == ReleaseKind.FULL) {
      problem = "release " + version + " is FULL (passage vectors change); re-embedding is not supported yet";
    } else if (version.equals(current.version())) {
      problem = "release " + version + " has sha256 " + release.getSha256() + " but the serving bundle "
          + version + " has " + current.checksum() + "; bundles are immutable";
    } else {
      try {
        bundle = open(release);
        problem = incompatibility(release, bundle);
      } catch (RuntimeException e) { // BundleException, an unreadable file, a malformed URI
        problem = e.getMessage() == null ? e.toString() : e.getMessage();
      }
    }
    if (problem != null) {
      log.warn("Refused model release {} ({} {}): {}; still serving {}", version, release.getKind(),
          release.getBundleUri(), problem, current.version());
      return ledger.refused(version, problem);
    }
    search.adopt(version, bundle.iem().orElse(null));
    serving = bundle;
    long nanos = System.nanoTime() - start;
    log.info("Adopted model release {} (parent {}): re-ranking with {} in place of {}, swapped in {} ms", version,
        release.getParentVersion(), bundle.iem().map(Object::toString).orElse("no IEM head"), current.version(),
        nanos / 1_000_000);
    return ledger.adopted(version, current.version(), nanos);
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
    if (!bundle.passageVectorsId().equals(initial.passageVectorsId())) {
      return "release " + version + " changes passage vectors (FULL); re-embedding is not supported yet";
    }
    if (bundle == initial) {
      return null;
    }
    if (bundle.iem().isEmpty()) {
      return "release " + version + " has no IEM head; a HEADS release brings a new one";
    }
    IemHead iem = bundle.iem().get();
    int dimension = search.model().dimension();
    if (iem.dimension() != dimension) {
      return "release " + version + " has an IEM head for dimension " + iem.dimension() + ", the index holds "
          + dimension;
    }
    return null;
  }
}
