package io.d2search.indexer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/** Meters of the embed topology; shared by its processors (Micrometer meters are thread-safe). */
final class EmbedMetrics {
  final DistributionSummary batchSize;
  final Timer latency;
  final Timer queueTime;
  final Counter skippedUnchanged;
  final Counter embedded;
  final Counter tombstones;
  final Counter deadLettered;

  EmbedMetrics(MeterRegistry registry, String topic) {
    this.batchSize = DistributionSummary.builder("d2search.embed.batch.size").baseUnit("passages")
        .description("Passages per embedder call").tag("topic", topic).register(registry);
    this.latency = Timer.builder("d2search.embed.latency").publishPercentileHistogram()
        .description("Time of one embedder call over a batch").tag("topic", topic).register(registry);
    this.queueTime = Timer.builder("d2search.embed.queue.time").publishPercentileHistogram()
        .description("Time a passage waited in the embed buffer").tag("topic", topic).register(registry);
    this.skippedUnchanged = Counter.builder("d2search.embed.skipped.unchanged")
        .description("Passages not re-embedded: same text under the same model version").tag("topic", topic).register(registry);
    this.embedded = Counter.builder("d2search.embed.passages")
        .description("Passages embedded").tag("topic", topic).register(registry);
    this.tombstones = Counter.builder("d2search.embed.tombstones")
        .description("Passage tombstones forwarded to the embeddings topic").tag("topic", topic).register(registry);
    this.deadLettered = Counter.builder("d2search.embed.dead.letters")
        .description("Passages the embedder failed on, alone, sent to the dead-letter topic").tag("topic", topic).register(registry);
  }
}
