package io.d2search.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTest {
  @TempDir Path dir;

  @Test
  void defaultsThenFileThenEnvironmentThenCommandLine() throws IOException {
    Path file = dir.resolve("d2search.properties");
    Files.writeString(file, "http.port=9000\nchunk.max-tokens=100\n");
    Settings s = Settings.load(file, Map.of("D2SEARCH_CHUNK_MAX_TOKENS", "120", "UNRELATED", "x"));
    assertThat(s.integer("http.port")).isEqualTo(9000);
    assertThat(s.integer("chunk.max-tokens")).isEqualTo(120);
    assertThat(s.string("kafka.bootstrap.servers")).isEqualTo("localhost:9092");
    assertThat(s.with("http.port", 7000).integer("http.port")).isEqualTo(7000);
    assertThat(s.with("http.port", null).integer("http.port")).isEqualTo(9000);
  }

  @Test
  void environmentNamesFollowTheKeys() {
    assertThat(Settings.envName("index.hnsw.beam-width")).isEqualTo("D2SEARCH_INDEX_HNSW_BEAM_WIDTH");
  }

  @Test
  void unknownKeysAndBadValuesAreClearErrors() throws IOException {
    Path file = dir.resolve("bad.properties");
    Files.writeString(file, "http.prot=9000\n");
    assertThatThrownBy(() -> Settings.load(file, Map.of())).hasMessageContaining("Unknown setting 'http.prot'");
    Settings s = Settings.load(null, Map.of("D2SEARCH_HTTP_PORT", "eighty"));
    assertThatThrownBy(() -> s.integer("http.port")).hasMessageContaining("http.port").hasMessageContaining("eighty");
    assertThatThrownBy(() -> Settings.load(null, Map.of("D2SEARCH_MODEL_PROVIDER", "TPU")).string("nope"))
        .hasMessageContaining("Unknown setting nope");
  }

  /** Closed by default (reliability issue, finding 4): the HTTP API listens on loopback unless configured. */
  @Test
  void theHttpApiListensOnLoopbackByDefault() {
    assertThat(Settings.defaults().string("http.host")).isEqualTo("127.0.0.1");
    assertThat(Settings.load(null, Map.of("D2SEARCH_HTTP_HOST", "0.0.0.0")).string("http.host")).isEqualTo("0.0.0.0");
  }

  @Test
  void defaultsAreTheFileAlone() {
    assertThat(Settings.defaults().integer("chunk.max-tokens")).isEqualTo(Settings.load(null, Map.of())
        .integer("chunk.max-tokens"));
    assertThat(Settings.defaults()).isSameAs(Settings.defaults());
  }

  /** Reliability issue, finding 4: Kafka client security passes through from the file and the environment. */
  @Test
  void kafkaClientSecurityPassesThroughFromFileAndEnvironment() throws IOException {
    Path file = dir.resolve("secure.properties");
    Files.writeString(file, "kafka.client.sasl.mechanism=SCRAM-SHA-512\nkafka.client.client.dns.lookup=use_all_dns_ips\n");
    Settings s = Settings.load(file, Map.of("D2SEARCH_KAFKA_CLIENT_SECURITY_PROTOCOL", "SASL_SSL"));
    assertThat(s.kafkaClient()).containsExactlyInAnyOrderEntriesOf(Map.of("security.protocol", "SASL_SSL",
        "sasl.mechanism", "SCRAM-SHA-512", "client.dns.lookup", "use_all_dns_ips"));
    assertThat(Settings.defaults().kafkaClient()).as("nothing is passed by default").isEmpty();
  }
}
