package io.d2search.app;

import io.d2search.config.Settings;
import io.d2search.indexer.IndexerTopics;
import io.d2search.schemas.TopicAdmin;
import io.d2search.feedback.FeedbackJob;
import io.d2search.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/** Creates the topics a service writes to when they are missing; existing topics are left alone. */
public final class TopicSetup {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private TopicSetup() {}

  /** The indexer's topics: documents, documents.dlq, passages, embeddings. */
  public static void forIndexer(Settings s) {
    IndexerTopics.createIfMissing(admin(s), s.integer("kafka.topic.partitions"), replication(s), TIMEOUT);
  }

  /** The query service's output topics: impressions and clicks (plus model-releases, which it reads). */
  public static void forQueryService(Settings s) {
    int partitions = s.integer("kafka.topic.partitions");
    short rf = replication(s);
    List<NewTopic> topics = new ArrayList<>();
    topics.add(new NewTopic(Topics.IMPRESSIONS, partitions, rf));
    topics.add(new NewTopic(Topics.CLICKS, partitions, rf));
    topics.add(new NewTopic(Topics.MODEL_RELEASES, 1, rf).configs(Map.of("cleanup.policy", "compact")));
    try (Admin admin = Admin.create(admin(s))) {
      TopicAdmin.createIfMissing(admin, topics, TIMEOUT);
    }
  }

  /** The feedback join's output topics: training-pairs and feedback.dlq. */
  public static void forFeedback(Settings s) {
    FeedbackJob.createTopicsIfMissing(admin(s), s.integer("kafka.topic.partitions"), replication(s), TIMEOUT);
  }

  private static Map<String, Object> admin(Settings s) {
    Map<String, Object> admin = new java.util.HashMap<>(s.kafkaClient());
    admin.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.string("kafka.bootstrap.servers"));
    admin.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis());
    return admin;
  }

  private static short replication(Settings s) {
    return (short) s.integer("kafka.topic.replication-factor");
  }
}
