package io.d2search.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Counts what became of model releases, remembers the last refusal, and publishes both: counter
 * {@code d2search.model.releases} (tag {@code outcome}: adopted, refused, ignored; registered at zero so dashboards
 * see them before the first release) and timer {@code d2search.model.swap} (opening, verifying and swapping in an
 * adopted release). Meters are removed on {@link #close()}.
 *
 * <p>Thread-safe: one thread records, any thread reads {@link #status}.
 */
final class ReleaseLedger implements AutoCloseable {
  private final MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();
  private final Map<ReleaseOutcome.Kind, Counter> outcomes = new EnumMap<>(ReleaseOutcome.Kind.class);
  private final Timer swap;
  private final AtomicReference<ReleaseStatus.Refusal> lastRefused = new AtomicReference<>();

  ReleaseLedger(MeterRegistry registry) {
    this.registry = registry;
    for (ReleaseOutcome.Kind kind : ReleaseOutcome.Kind.values()) {
      outcomes.put(kind, register(Counter.builder("d2search.model.releases").tag("outcome", kind.label())
          .description("Model releases read from model-releases, by what became of them").register(registry)));
    }
    this.swap = register(Timer.builder("d2search.model.swap")
        .description("Adopting a model release: opening and verifying its bundle, swapping the re-ranker")
        .register(registry));
  }

  private <M extends Meter> M register(M meter) {
    meters.add(meter);
    return meter;
  }

  ReleaseOutcome adopted(String version, String replaced, long nanos) {
    swap.record(nanos, TimeUnit.NANOSECONDS);
    return count(new ReleaseOutcome(ReleaseOutcome.Kind.ADOPTED, version, "replaced " + replaced));
  }

  ReleaseOutcome pending(String version, String reason) {
    return count(new ReleaseOutcome(ReleaseOutcome.Kind.PENDING, version, reason));
  }

  ReleaseOutcome canary(String version, String reason) {
    return count(new ReleaseOutcome(ReleaseOutcome.Kind.CANARY, version, reason));
  }

  ReleaseOutcome refused(String version, String reason) {
    lastRefused.set(new ReleaseStatus.Refusal(version, reason, Instant.now()));
    return count(new ReleaseOutcome(ReleaseOutcome.Kind.REFUSED, version, reason));
  }

  ReleaseOutcome ignored(String version, String reason) {
    return count(new ReleaseOutcome(ReleaseOutcome.Kind.IGNORED, version, reason));
  }

  private ReleaseOutcome count(ReleaseOutcome outcome) {
    outcomes.get(outcome.kind()).increment();
    return outcome;
  }

  /** The counts and last refusal, with the watcher's own state. */
  ReleaseStatus status(boolean caughtUp) {
    return new ReleaseStatus(true, caughtUp, count(ReleaseOutcome.Kind.ADOPTED), count(ReleaseOutcome.Kind.PENDING),
        count(ReleaseOutcome.Kind.REFUSED), count(ReleaseOutcome.Kind.IGNORED), lastRefused.get(), null);
  }

  private long count(ReleaseOutcome.Kind kind) {
    return (long) outcomes.get(kind).count();
  }

  @Override
  public void close() {
    meters.forEach(registry::remove);
  }
}
