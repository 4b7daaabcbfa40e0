package io.d2search.app;

import io.d2search.bundle.BundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.schemas.ReleaseFollower;
import io.d2search.schemas.Topics;
import io.d2search.config.Settings;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes a bundle of the bundle store as the {@code CURRENT} model release, with the kind and embeddings topic its
 * passage vectors call for, so an operator never has to work them out:
 *
 * <ul>
 *   <li>it embeds passages as the current release does (same {@link ModelBundle#passageVectorsId()}): {@code HEADS},
 *       over the current release's topic (the query services swap the re-ranker);
 *   <li>it embeds them as {@code model.version} does: {@code FULL} over {@code embeddings} (back to the indexer's own
 *       vectors, which it always keeps current);
 *   <li>otherwise: {@code FULL} over {@code embeddings.<version>} (the indexer re-embeds every passage, the query
 *       services switch once their new index covers them).
 * </ul>
 *
 * Before any release the current one is {@code model.version}'s bundle over {@code embeddings}. When the current
 * release's bundle does not verify (the services refused it and serve an earlier one), nothing is known to share its
 * vectors: the bundle is released FULL.
 */
public final class ReleasePublisher {
  private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);

  private ReleasePublisher() {}

  /**
   * The release a bundle makes.
   *
   * @param bundle the bundle to release, verified
   * @param uri where services open it
   * @param base {@code model.version}'s bundle: what the indexer embeds {@code embeddings} with
   * @param current the current release, or null before any
   * @param currentBundle the current release's bundle ({@code base} before any release); null when it does not
   *     verify
   */
  static ModelRelease plan(ModelBundle bundle, URI uri, ModelBundle base, ModelRelease current,
      ModelBundle currentBundle) {
    String currentTopic = current == null ? Topics.EMBEDDINGS : current.getEmbeddingsTopic();
    ReleaseKind kind;
    String topic;
    if (currentBundle != null && bundle.passageVectorsId().equals(currentBundle.passageVectorsId())) {
      kind = ReleaseKind.HEADS;
      topic = currentTopic;
    } else if (bundle.passageVectorsId().equals(base.passageVectorsId())) {
      kind = ReleaseKind.FULL;
      topic = Topics.EMBEDDINGS;
    } else {
      kind = ReleaseKind.FULL;
      topic = Topics.embeddingsTopicOf(bundle.version());
    }
    return ModelRelease.newBuilder().setVersion(bundle.version())
        .setParentVersion(current == null ? base.version() : current.getVersion()).setBundleUri(uri.toString())
        .setSha256(bundle.checksum()).setKind(kind).setStage(ReleaseStage.CURRENT).setEmbeddingsTopic(topic)
        .setMetrics(numbers(bundle.manifest().metrics())).setTs(Instant.now()).build();
  }

  /** The manifest's numeric metrics (what the release carries). */
  private static Map<String, Double> numbers(Map<String, Object> metrics) {
    Map<String, Double> out = new java.util.TreeMap<>();
    metrics.forEach((k, v) -> {
      if (v instanceof Number n) {
        out.put(k, n.doubleValue());
      }
    });
    return out;
  }

  /**
   * Reads the current release, plans the bundle's and publishes it (unless {@code dryRun}).
   *
   * @return the release, published or planned
   * @throws IllegalStateException if the current release cannot be read or the record cannot be sent
   * @throws io.d2search.bundle.BundleException if the bundle (or the current release's) does not verify
   */
  public static ModelRelease publish(Settings s, String version, boolean dryRun) throws InterruptedException {
    BundleStore store = Components.bundleStore(s);
    ModelBundle base = Components.serviceBundle(s);
    URI uri = Components.bundlesDir(s).resolve(version).toUri();
    ModelBundle bundle = store.open(uri, ModelBundle.load(Components.bundlesDir(s).resolve(version)).checksum());
    ModelRelease current = current(s).orElse(null);
    ModelBundle currentBundle = current == null || current.getVersion().equals(base.version()) ? base
        : openOrNull(store, current);
    if (current != null && current.getVersion().equals(version) && current.getSha256().equals(bundle.checksum())) {
      throw new IllegalStateException("version " + version + " is the current release already");
    }
    ModelRelease release = plan(bundle, uri, base, current, currentBundle);
    if (!dryRun) {
      Map<String, Object> p = new java.util.HashMap<>(s.kafkaClient());
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.string("kafka.bootstrap.servers"));
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
          new ByteArraySerializer())) {
        producer.send(new ProducerRecord<>(Topics.MODEL_RELEASES, Topics.CURRENT_RELEASE,
            Topics.modelReleaseSerde().encode(release))).get(READ_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        throw new IllegalStateException("cannot publish release " + version + ": " + e, e);
      }
    }
    return release;
  }

  /** The current release's bundle; null when it does not verify (the services refused it too). */
  private static ModelBundle openOrNull(BundleStore store, ModelRelease current) {
    try {
      return store.open(URI.create(current.getBundleUri()), current.getSha256());
    } catch (RuntimeException e) {
      System.err.println("warning: the current release " + current.getVersion() + " does not verify (" + e.getMessage()
          + "); releasing as FULL");
      return null;
    }
  }

  /** The current release on {@code model-releases}, read to its end. */
  public static Optional<ModelRelease> current(Settings s) throws InterruptedException {
    AtomicReference<ModelRelease> latest = new AtomicReference<>();
    try (ReleaseFollower follower = ReleaseFollower.start(latest::set, () -> "-", "d2search-release-reader",
        s.string("kafka.bootstrap.servers"), s.kafkaClient())) {
      if (!follower.awaitCaughtUp(READ_TIMEOUT)) {
        throw new IllegalStateException("cannot read " + Topics.MODEL_RELEASES + " on "
            + s.string("kafka.bootstrap.servers") + " within " + READ_TIMEOUT.toSeconds() + " s"
            + follower.failure().map(f -> ": " + f).orElse(""));
      }
    }
    return Optional.ofNullable(latest.get());
  }

  /** One line for the operator. */
  public static String describe(ModelRelease r) {
    String effect = r.getKind() == ReleaseKind.HEADS
        ? "the query services swap the re-ranker between two searches"
        : r.getEmbeddingsTopic().equals(Topics.EMBEDDINGS)
            ? "the query services switch back to the indexer's own vectors (" + Topics.EMBEDDINGS + ")"
            : "the indexer re-embeds every passage into " + r.getEmbeddingsTopic()
                + "; each query service switches once its new index covers them (GET /models: releases.building)";
    return r.getKind() + " release " + r.getVersion() + " (parent " + r.getParentVersion() + ", vectors "
        + r.getEmbeddingsTopic() + "): " + effect;
  }
}
