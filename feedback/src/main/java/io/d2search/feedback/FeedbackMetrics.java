package io.d2search.feedback;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Counters of the feedback join, one per rule, so every record that does not become part of an example is
 * accounted for ({@code /metrics}: {@code d2search_feedback_*_total}).
 */
final class FeedbackMetrics {
  final Counter impressions;
  final Counter clicks;
  final Counter examples;
  final Counter unclicked;
  final Counter duplicateImpressions;
  final Counter duplicateClicks;
  final Counter rankMismatches;
  final Counter shortDwell;
  final MeterRegistry registry;

  FeedbackMetrics(MeterRegistry registry) {
    this.registry = registry;
    impressions = counter("d2search.feedback.impressions", "Impressions read");
    clicks = counter("d2search.feedback.clicks", "Clicks read");
    examples = counter("d2search.feedback.examples", "Training examples emitted to training-pairs");
    unclicked = counter("d2search.feedback.unclicked", "Searches whose window closed with no positive click");
    duplicateImpressions = counter("d2search.feedback.impressions.duplicate",
        "Impressions for a query id already seen (a replay): dropped");
    duplicateClicks = counter("d2search.feedback.clicks.duplicate",
        "Clicks on a passage already clicked for the same query: merged (the longest dwell kept)");
    rankMismatches = counter("d2search.feedback.clicks.rank-mismatch",
        "Clicks whose reported rank differs from the impression's: the impression's rank is used");
    shortDwell = counter("d2search.feedback.clicks.short-dwell",
        "Clicks with a known dwell under feedback.min-dwell-ms: neither positive nor negative");
    for (String reason : new String[] {"decode", "key", "not-shown", "late", "unknown-query"}) {
      deadLetterCounter(reason); // at zero from the start, for dashboards
    }
  }

  /** A record dead-lettered, tagged with the reason's kind. */
  void deadLettered(String reason) {
    deadLetterCounter(reason).increment();
  }

  private Counter deadLetterCounter(String reason) {
    return Counter.builder("d2search.feedback.dead-letters").tag("reason", reason)
        .description("Impressions and clicks sent to feedback.dlq, by reason").register(registry);
  }

  private Counter counter(String name, String description) {
    return Counter.builder(name).description(description).register(registry);
  }
}
