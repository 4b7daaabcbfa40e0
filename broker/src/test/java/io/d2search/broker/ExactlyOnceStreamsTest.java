package io.d2search.broker;

import static io.d2search.broker.KafkaClients.consume;
import static io.d2search.broker.KafkaClients.produce;
import static io.d2search.broker.KafkaClients.records;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Kafka Streams with exactly_once_v2 (transactions, a changelog topic) runs against the embedded broker. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ExactlyOnceStreamsTest {

  @Test
  void exactlyOnceTopologyProcessesRecords(@TempDir Path kafkaDir, @TempDir Path stateDir) throws Exception {
    try (EmbeddedKafka kafka = EmbeddedKafka.start(kafkaDir, 0)) {
      kafka.createTopics(new NewTopic("in", 2, (short) 1), new NewTopic("out", 2, (short) 1));

      StreamsBuilder builder = new StreamsBuilder();
      builder.stream("in", Consumed.with(Serdes.String(), Serdes.String()))
          .mapValues(v -> v.toUpperCase(Locale.ROOT))
          .toTable(Materialized.as("latest")) // a state store, so a changelog topic is written transactionally
          .toStream()
          .to("out", Produced.with(Serdes.String(), Serdes.String()));

      Properties config = new Properties();
      config.put(StreamsConfig.APPLICATION_ID_CONFIG, "eos-test");
      config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      config.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
      config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
      config.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
      config.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
      config.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);

      Map<String, String> sent = records("eos", 10);
      Map<String, String> expected = new LinkedHashMap<>();
      sent.forEach((k, v) -> expected.put(k, v.toUpperCase(Locale.ROOT)));
      try (KafkaStreams streams = new KafkaStreams(builder.build(), config)) {
        streams.start();
        produce(kafka.bootstrapServers(), "in", sent);

        assertThat(consume(kafka.bootstrapServers(), "out", sent.size(), true))
            .containsExactlyInAnyOrderEntriesOf(expected);
        assertThat(streams.state()).isEqualTo(KafkaStreams.State.RUNNING);
        streams.close(Duration.ofSeconds(30));
      }
    }
  }
}
