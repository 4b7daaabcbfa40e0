package io.d2search.indexer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/** Counters of the chunk topology; shared by its processors (Micrometer meters are thread-safe). */
final class ChunkMetrics {
  final Counter upserted;
  final Counter deleted;
  final Counter stale;
  final Counter passages;
  final Counter tombstones;
  final Counter expiredDeletes;
  private final MeterRegistry registry;

  ChunkMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.upserted = documents(registry, "upserted");
    this.deleted = documents(registry, "deleted");
    this.stale = documents(registry, "stale");
    this.passages = Counter.builder("d2search.chunk.passages")
        .description("Passages written to the passages topic").register(registry);
    this.tombstones = Counter.builder("d2search.chunk.tombstones")
        .description("Passage tombstones written for shrunk or deleted documents").register(registry);
    this.expiredDeletes = Counter.builder("d2search.chunk.deletes.expired")
        .description("Deleted documents forgotten after the delete retention").register(registry);
    // At zero from the start, so a dashboard's rate shows 0 rather than no data.
    for (String stage : new String[] {ChunkTopology.STAGE_DECODE, ChunkTopology.STAGE_VALIDATE,
        ChunkTopology.STAGE_CHUNK}) {
      deadLetterCounter(stage);
    }
  }

  private Counter deadLetterCounter(String stage) {
    return Counter.builder("d2search.chunk.dead.letters").tag("stage", stage)
        .description("Input records sent to the dead-letter topic").register(registry);
  }

  private static Counter documents(MeterRegistry registry, String outcome) {
    return Counter.builder("d2search.chunk.documents").tag("outcome", outcome)
        .description("Document events by outcome").register(registry);
  }

  /** Dead letters by stage. */
  void deadLettered(String stage) {
    deadLetterCounter(stage).increment();
  }
}
