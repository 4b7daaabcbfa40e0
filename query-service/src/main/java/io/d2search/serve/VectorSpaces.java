package io.d2search.serve;

import io.d2search.bundle.ModelBundle;
import io.d2search.embed.Embedder;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.IndexConfig;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.PassageIndex;
import io.d2search.index.StoredPassage;
import io.d2search.rank.IemHead;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the vector space of a release whose passage vectors differ from the serving ones (a FULL release) beside
 * the serving space, and switches searches to it once it covers every live passage.
 *
 * <p><b>Building.</b> {@link #prepare} opens the release's bundle's embedder (stamping the vectors version), an index
 * in {@code <index.dir>/<vectors version>} (kept across restarts, so a restart resumes it) and a materialiser on the
 * release's embeddings topic, which the indexer fills by re-embedding every passage ({@code ReleaseEmbedders}). A
 * newer release replaces a pending one (its space is closed, or kept when the newer one shares its vectors).
 *
 * <p><b>Switching.</b> Every {@link #CHECK_PERIOD} the pending space is compared with the serving one: it covers it
 * when both materialisers have caught up and every passage of the serving index is in the pending index with the
 * same text hash (the same text was embedded). Then the release's adopter is called back and {@link #switchTo}
 * replaces the serving model ({@link SearchService#switchTo}) in one atomic step: no search runs over two spaces,
 * and none finds an empty index. The old space's materialiser stops at once; its index and embedder close after
 * {@link #RETIRE_GRACE} (searches that started before the switch finish on them), and its index directory is deleted unless it is the one the service started with (a restart starts from it
 * and adopts the current release again).
 *
 * <p>Thread-safe: the release watcher's thread prepares, a scheduler checks coverage, both under this object's lock;
 * the switch is the adopter's, called back with no lock held and taken under the adopter's lock, then this one (the
 * order {@link #prepare} is called in, so the two cannot deadlock).
 */
final class VectorSpaces implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VectorSpaces.class);
  /** How often the pending space's coverage is checked. */
  static final Duration CHECK_PERIOD = Duration.ofSeconds(1);
  /** How long a replaced space stays open for searches that started on it. */
  static final Duration RETIRE_GRACE = Duration.ofSeconds(10);

  /** What a release needs from the service to build its space. */
  record Setup(Function<String, Path> indexDirs, IndexConfig index, MaterializerConfig materializer,
      MeterRegistry registry) {}

  /** A space being built, and the release that will serve on it. */
  private record Pending(String release, ModelBundle bundle, VectorSpace space, Instant since, Runnable covered) {}

  private final SearchService search;
  private final Setup setup;
  private final VectorSpace initial;
  private final Path initialDir;
  private final Embedder initialEmbedder;
  private final ScheduledExecutorService scheduler;
  private Pending pending;
  private double pendingCoverage;
  private boolean closed;
  /** Spaces switched away from and not closed yet; closed by the scheduler or by {@link #close()}. */
  private final List<VectorSpace> retiring = new ArrayList<>();

  /**
   * @param search the service whose space is replaced
   * @param setup where and how release spaces are built
   */
  VectorSpaces(SearchService search, Setup setup) {
    this.search = Objects.requireNonNull(search, "search");
    this.setup = Objects.requireNonNull(setup, "setup");
    this.initial = search.serving().space();
    this.initialDir = initial.index().dir();
    this.initialEmbedder = initial.embedder();
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "vector-space-switch");
      t.setDaemon(true);
      return t;
    });
    scheduler.scheduleWithFixedDelay(this::checkCoverage, CHECK_PERIOD.toMillis(), CHECK_PERIOD.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** The vectors version and topic searched now. */
  VectorSpace serving() {
    return search.serving().space();
  }

  /**
   * Starts building the space of a release's passage vectors (or re-targets the pending one, if it is the same
   * vectors version); searches switch to it, ranked by {@code bundle}'s IEM head, once it covers the serving space.
   *
   * @param release the release version that will serve
   * @param bundle its bundle, verified
   * @param vectorsVersion the version its vectors are stamped with (its own for a FULL release)
   * @param topic where its vectors are
   * @param covered run, with no lock of this class held, each time the space is found to cover the serving one; it
   *     switches by calling {@link #switchTo} (and counts the adoption)
   * @throws RuntimeException if the embedder, index or materialiser cannot be opened; nothing changes then
   */
  synchronized void prepare(String release, ModelBundle bundle, String vectorsVersion, String topic,
      Runnable covered) {
    if (closed) {
      return;
    }
    if (pending != null && pending.space().version().equals(vectorsVersion) && pending.space().topic().equals(topic)) {
      pending = new Pending(release, bundle, pending.space(), pending.since(), covered);
      log.info("Model release {} replaces the pending {} over the same vectors ({})", release, pending.release(),
          vectorsVersion);
      return;
    }
    VectorSpace space = open(bundle, vectorsVersion, topic);
    if (pending != null) {
      log.info("Model release {} replaces the pending {}; closing the space of {}", release, pending.release(),
          pending.space().version());
      closeSpace(pending.space(), false);
    }
    pending = new Pending(release, bundle, space, Instant.now(), covered);
    pendingCoverage = 0;
    log.info("Building the index of model release {} (vectors {}) from {} in {}; searches stay on {} until it covers"
        + " every passage", release, vectorsVersion, topic, space.index().dir(), serving().version());
  }

  private VectorSpace open(ModelBundle bundle, String vectorsVersion, String topic) {
    if (setup.indexDirs().apply(vectorsVersion).equals(initialDir)) {
      // Back to the vectors the service started with (a roll-back): its index is still open, only its materialiser
      // stopped at the switch.
      EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(initial.index(),
          setup.materializer().withTopic(topic), setup.registry());
      return new VectorSpace(vectorsVersion, topic, initial.index(), initialEmbedder, materializer);
    }
    Embedder embedder = bundle.embedder(initialEmbedder.config(), vectorsVersion);
    PassageIndex index = null;
    try {
      index = PassageIndex.open(setup.indexDirs().apply(vectorsVersion), vectorsVersion, setup.index());
      EmbeddingsMaterializer materializer = EmbeddingsMaterializer.start(index, setup.materializer().withTopic(topic),
          setup.registry());
      return new VectorSpace(vectorsVersion, topic, index, embedder, materializer);
    } catch (RuntimeException e) {
      if (index != null) {
        index.close();
      }
      embedder.close();
      throw e;
    }
  }

  /** The space being built, or null. */
  synchronized ReleaseStatus.Building building() {
    if (pending == null) {
      return null;
    }
    VectorSpace p = pending.space();
    return new ReleaseStatus.Building(pending.release(), p.version(), p.topic(), p.index().size(), pendingCoverage,
        pending.since());
  }

  /**
   * Tells the pending release's adopter when its space covers the serving one. The adopter switches by calling
   * {@link #switchTo} under its own lock: the callback runs with no lock of this class held, so the lock order is
   * always adopter, then spaces (as in {@link #prepare}), and the adopter's bookkeeping happens with the switch.
   */
  private void checkCoverage() {
    Runnable covered;
    try {
      synchronized (this) {
        if (closed || pending == null) {
          return;
        }
        pendingCoverage = coverage(search.serving().space(), pending.space());
        if (!ready()) {
          return;
        }
        covered = pending.covered();
      }
      covered.run();
    } catch (RuntimeException e) {
      log.warn("Checking the pending vector space failed; trying again in {}: {}", CHECK_PERIOD, e.toString());
    }
  }

  private boolean ready() {
    return pendingCoverage >= 1.0 && caughtUp(search.serving().space()) && caughtUp(pending.space());
  }

  /**
   * Switches searches to the pending space of {@code release} in one atomic step, if it is still pending and covers
   * the serving space (its coverage was last checked by the scheduler, which then called the release's callback).
   * The old space's materialiser is stopped just after, off the caller's thread.
   *
   * @param switched run at once after the switch, before anything else (the adopter's bookkeeping, so that whoever
   *     sees the new version serving also sees it counted)
   * @return whether searches switched; false if another release replaced it meanwhile or it stopped covering
   */
  synchronized boolean switchTo(String release, Runnable switched) {
    if (closed || pending == null || !pending.release().equals(release) || !ready()) {
      return false;
    }
    VectorSpace from = search.serving().space();
    VectorSpace to = pending.space();
    IemHead iem = pending.bundle().iem().orElse(null);
    long start = System.nanoTime();
    search.switchTo(pending.release(), iem, to);
    switched.run();
    log.info("Switched searches to model release {}: vectors {} from {} ({} passages), in place of {} ({});"
        + " switched in {} ms", pending.release(), to.version(), to.topic(), to.index().size(), from.version(),
        from.topic(), (System.nanoTime() - start) / 1_000_000);
    pending = null;
    retiring.add(from);
    // Closing a Kafka consumer takes a few hundred ms: not while the adopter waits.
    scheduler.execute(() -> from.materializerIfAny().ifPresent(EmbeddingsMaterializer::close));
    scheduler.schedule(() -> retire(from), RETIRE_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    return true;
  }

  private static boolean caughtUp(VectorSpace space) {
    return space.materializerIfAny().map(m -> m.caughtUp() && m.failure().isEmpty()).orElse(true);
  }

  /**
   * Fraction of the serving index's passages that the other index holds with the same text hash; 1 when it holds
   * them all (or the serving index is empty and the other one is not behind).
   */
  private static double coverage(VectorSpace serving, VectorSpace candidate) {
    serving.index().refresh();
    candidate.index().refresh();
    int total = serving.index().size();
    if (total == 0) {
      return 1.0;
    }
    if (candidate.index().size() < total) {
      return candidate.index().size() / (double) total * 0.999; // cheap: it cannot cover yet
    }
    long[] covered = {0};
    serving.index().forEachPassage((StoredPassage p) -> {
      if (candidate.index().get(p.passageId()).map(c -> Objects.equals(c.textHash(), p.textHash())).orElse(false)) {
        covered[0]++;
      }
    });
    return covered[0] / (double) total;
  }

  private synchronized void retire(VectorSpace space) {
    if (!retiring.remove(space)) {
      return; // closed already
    }
    closeSpace(space, true);
  }

  /** Closes a space; deletes its index directory unless it is the service's own (or {@code delete} is false). */
  private void closeSpace(VectorSpace space, boolean delete) {
    space.materializerIfAny().ifPresent(EmbeddingsMaterializer::close);
    boolean own = space.index().dir().equals(initialDir);
    if (own) {
      return; // the service's first space: QueryService closes it, and a restart starts from it
    }
    space.index().close();
    space.embedder().close();
    if (delete) {
      deleteDirectory(space.index().dir());
      log.info("Retired the index of vectors {} ({})", space.version(), space.index().dir());
    }
  }

  private static void deleteDirectory(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Stops checking, closes the pending space and those retiring, and the serving space if it is not the service's
   * own (QueryService closes that one).
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    scheduler.shutdownNow();
    if (pending != null) {
      closeSpace(pending.space(), false);
      pending = null;
    }
    for (VectorSpace space : retiring) {
      closeSpace(space, false);
    }
    retiring.clear();
    closeSpace(search.serving().space(), false);
  }
}
