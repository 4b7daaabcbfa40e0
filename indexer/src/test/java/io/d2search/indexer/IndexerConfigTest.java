package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.ingest.ChunkerConfig;
import io.d2search.ingest.ValidationLimits;
import io.d2search.schemas.Topics;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;

class IndexerConfigTest {
  private final IndexerConfig defaults = IndexerConfig.defaults("broker:9092", Path.of("/var/d2search"));

  @Test
  void defaultsAreTheDocumentedOnes() {
    assertThat(defaults.applicationIdPrefix()).isEqualTo("d2search");
    assertThat(defaults.chunkerApplicationId()).isEqualTo("d2search-chunker");
    assertThat(defaults.embedderApplicationId()).isEqualTo("d2search-embedder");
    assertThat(defaults.chunker()).isEqualTo(ChunkerConfig.defaults());
    assertThat(defaults.validation()).isEqualTo(ValidationLimits.defaults());
    assertThat(defaults.embedMaxBatch()).isEqualTo(32);
    assertThat(defaults.embedMaxWaitMs()).isEqualTo(20);
    assertThat(defaults.streamThreads()).isEqualTo(1);
    assertThat(defaults.commitIntervalMs()).isEqualTo(20);
    assertThat(defaults.streamsOverrides()).isEmpty();
  }

  @Test
  void valuesAreValidated() {
    assertThatThrownBy(() -> defaults.withEmbedBatching(0, 20)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> defaults.withEmbedBatching(32, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> defaults.withStreamThreads(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> defaults.withCommitIntervalMs(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> defaults.withApplicationIdPrefix("has space"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> IndexerConfig.defaults(" ", Path.of("x"))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void streamsConfigIsExactlyOnceWithStringKeysAndOverridesLast() {
    Properties p = Indexer.streamsConfig(
        defaults.withStreamThreads(2).withStreamsOverrides(Map.of("security.protocol", "SSL",
            StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "250")),
        defaults.chunkerApplicationId());
    assertThat(p.get(StreamsConfig.APPLICATION_ID_CONFIG)).isEqualTo("d2search-chunker");
    assertThat(p.get(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG)).isEqualTo("broker:9092");
    assertThat(p.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG)).isEqualTo(StreamsConfig.EXACTLY_ONCE_V2);
    assertThat(p.get(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG)).isEqualTo(Serdes.StringSerde.class.getName());
    assertThat(p.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG)).isEqualTo(2);
    assertThat(p.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG)).isEqualTo("250");
    assertThat(p.get("security.protocol")).isEqualTo("SSL");
  }

  @Test
  void thePollIsAQuarterOfTheShorterOfCommitIntervalAndBatchWait() {
    IndexerConfig c = defaults.withEmbedBatching(32, 20);
    assertThat(Indexer.streamsConfig(c.withCommitIntervalMs(100), "a").get(StreamsConfig.POLL_MS_CONFIG))
        .isEqualTo(5L);
    assertThat(Indexer.streamsConfig(c.withCommitIntervalMs(8), "a").get(StreamsConfig.POLL_MS_CONFIG))
        .isEqualTo(2L);
    assertThat(Indexer.streamsConfig(c.withCommitIntervalMs(2), "a").get(StreamsConfig.POLL_MS_CONFIG))
        .as("at least 1 ms").isEqualTo(1L);
    assertThat(Indexer.streamsConfig(defaults.withEmbedBatching(32, 5000).withCommitIntervalMs(1000), "a")
        .get(StreamsConfig.POLL_MS_CONFIG)).as("at most the Streams default").isEqualTo(100L);
  }

  @Test
  void passagesAndEmbeddingsAreCompacted() {
    assertThat(IndexerTopics.definitions(3, (short) 1)).hasSize(4).allSatisfy(t -> {
      assertThat(t.numPartitions()).isEqualTo(3);
      assertThat(t.replicationFactor()).isEqualTo((short) 1);
    });
    assertThat(IndexerTopics.definitions(3, (short) 1)).filteredOn(t -> t.configs() != null
            && "compact".equals(t.configs().get("cleanup.policy")))
        .extracting(NewTopic::name).containsExactlyInAnyOrder(Topics.PASSAGES, Topics.EMBEDDINGS);
    assertThatThrownBy(() -> IndexerTopics.definitions(0, (short) 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
