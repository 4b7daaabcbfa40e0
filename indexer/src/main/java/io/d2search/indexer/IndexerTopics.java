package io.d2search.indexer;

import io.d2search.schemas.TopicAdmin;
import io.d2search.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;

/**
 * Creates the indexer's topics when they are missing: {@code documents}, {@code documents.dlq}, and the compacted
 * {@code passages} and {@code embeddings}. Existing topics are left as they are (partitions are not changed).
 * Stateless and thread-safe.
 */
public final class IndexerTopics {
  /** Replication factor when none is given: one broker, as in the all-in-one demo. */
  public static final short DEFAULT_REPLICATION_FACTOR = 1;
  /** How long creation may take before it fails. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  /** The indexer's topics, in data-flow order. */
  public static final List<String> NAMES =
      List.of(Topics.DOCUMENTS, Topics.DOCUMENTS_DLQ, Topics.PASSAGES, Topics.EMBEDDINGS);

  private IndexerTopics() {}

  /**
   * The topic definitions.
   *
   * @param partitions partitions of every topic, {@code >= 1}; the indexer scales up to this many tasks
   * @param replicationFactor {@code >= 1}
   */
  public static List<NewTopic> definitions(int partitions, short replicationFactor) {
    if (partitions < 1) {
      throw new IllegalArgumentException("partitions must be >= 1: " + partitions);
    }
    if (replicationFactor < 1) {
      throw new IllegalArgumentException("replicationFactor must be >= 1: " + replicationFactor);
    }
    List<NewTopic> topics = new ArrayList<>();
    for (String name : NAMES) {
      NewTopic topic = new NewTopic(name, partitions, replicationFactor);
      if (Topics.COMPACTED.contains(name)) {
        topic.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
      }
      topics.add(topic);
    }
    return topics;
  }

  /**
   * Creates the missing topics with replication factor {@value #DEFAULT_REPLICATION_FACTOR}.
   *
   * @return the names of the topics created by this call
   * @see #createIfMissing(Map, int, short, Duration)
   */
  public static Set<String> createIfMissing(String bootstrapServers, int partitions) {
    return createIfMissing(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers), partitions,
        DEFAULT_REPLICATION_FACTOR, DEFAULT_TIMEOUT);
  }

  /**
   * Creates the missing topics through a short-lived admin client.
   *
   * @param adminConfig admin client properties ({@code bootstrap.servers}, security)
   * @return the names of the topics created by this call
   * @throws IllegalStateException if a topic cannot be created within the timeout
   */
  public static Set<String> createIfMissing(
      Map<String, Object> adminConfig, int partitions, short replicationFactor, Duration timeout) {
    Objects.requireNonNull(adminConfig, "adminConfig");
    try (Admin admin = Admin.create(adminConfig)) {
      return createIfMissing(admin, partitions, replicationFactor, timeout);
    }
  }

  /**
   * Creates the missing topics with the given admin client (not closed).
   *
   * @return the names of the topics created by this call
   * @throws IllegalStateException if a topic cannot be created within the timeout
   */
  public static Set<String> createIfMissing(Admin admin, int partitions, short replicationFactor, Duration timeout) {
    return TopicAdmin.createIfMissing(admin, definitions(partitions, replicationFactor), timeout);
  }
}
