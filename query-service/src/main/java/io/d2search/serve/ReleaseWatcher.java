package io.d2search.serve;

import io.d2search.events.ModelRelease;
import io.d2search.schemas.ReleaseFollower;
import io.d2search.schemas.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Follows {@code model-releases} ({@link ReleaseFollower}: from the beginning, the latest {@code CURRENT} release at
 * catch-up, then each as it arrives) and hands releases to a {@link ReleaseAdopter}; {@code CANARY} records go to
 * the adopter too (which ignores them). Undecodable records and tombstones are counted by the ledger and never stop
 * the loop; the serving model stays. Thread-safe accessors; {@link #close()} stops the thread.
 */
public final class ReleaseWatcher implements AutoCloseable {
  private static final String COMPONENT = "model-releases";

  private final ReleaseLedger ledger;
  private final ReleaseFollower follower;

  private ReleaseWatcher(ReleaseAdopter adopter, ReleaseLedger ledger, String bootstrapServers,
      Map<String, String> kafkaProperties) {
    this.ledger = ledger;
    this.follower = ReleaseFollower.start(new ReleaseFollower.Listener() {
      @Override
      public void current(ModelRelease release) {
        adopter.apply(release);
      }

      @Override
      public void other(ModelRelease release) {
        adopter.apply(release);
      }

      @Override
      public void superseded(ModelRelease release) {
        adopter.superseded(release);
      }

      @Override
      public void withdrawn(String key, String where) {
        if (Topics.CANARY_RELEASE.equals(key)) {
          adopter.withdrawCanary(where);
        }
        ledger.ignored(where, "tombstone of " + key);
      }

      @Override
      public void ignored(String where, String why) {
        ledger.ignored(where, why);
      }

      @Override
      public void refused(String where, String why) {
        ledger.refused(where, why);
      }
    }, () -> adopter.servingBundle().version(), "d2search-query-service-releases", bootstrapServers,
        kafkaProperties);
  }

  /**
   * Creates the consumer and starts the thread; returns at once.
   *
   * @param adopter applies the releases read
   * @param ledger the adopter's ledger: the watcher counts what it drops itself (undecodable, tombstones)
   * @param bootstrapServers the cluster of {@code model-releases}
   * @param kafkaProperties extra client properties (security, timeouts), as the other query-service clients get
   */
  static ReleaseWatcher start(ReleaseAdopter adopter, ReleaseLedger ledger, String bootstrapServers,
      Map<String, String> kafkaProperties) {
    return new ReleaseWatcher(Objects.requireNonNull(adopter, "adopter"), Objects.requireNonNull(ledger, "ledger"),
        Objects.requireNonNull(bootstrapServers, "bootstrapServers"), kafkaProperties);
  }

  /** True once the topic as it stood at start has been read and its current release adopted or refused. */
  public boolean caughtUp() {
    return follower.caughtUp();
  }

  /** Waits until {@link #caughtUp()}, the loop has failed, or the timeout passes; returns whether it caught up. */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    return follower.awaitCaughtUp(timeout);
  }

  /** Why the loop stopped, if it failed. */
  public Optional<Throwable> failure() {
    return follower.failure();
  }

  /** Adopted, refused and ignored releases, the last refusal, and whether it has caught up. */
  public ReleaseStatus status() {
    return ledger.status(caughtUp());
  }

  /**
   * Its part of {@code GET /health}: ready once caught up, so a replica does not report ready while it would still
   * rank with a model the current release has replaced.
   */
  public HealthCheck health() {
    return () -> {
      long behind = follower.lag();
      Map<String, Long> lags = behind < 0 ? Map.of() : Map.of(Topics.MODEL_RELEASES, behind);
      Optional<Throwable> failure = follower.failure();
      if (failure.isPresent()) {
        return new ComponentHealth(COMPONENT, false, "failed", String.valueOf(failure.get()), lags);
      }
      if (caughtUp()) {
        return new ComponentHealth(COMPONENT, true, "ready", "", lags);
      }
      return new ComponentHealth(COMPONENT, false, "catching-up", follower.topicFound() ? ""
          : "waiting for topic " + Topics.MODEL_RELEASES + " on " + follower.bootstrapServers(), lags);
    };
  }

  /** Stops the thread and closes the consumer; the serving model stays. Calling it again does nothing. */
  @Override
  public void close() {
    follower.close();
  }
}
