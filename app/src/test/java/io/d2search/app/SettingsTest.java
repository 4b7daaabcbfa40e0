package io.d2search.app;

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
  void everyDefaultIsDocumentedAndComponentsBuildFromThem() {
    Settings s = Settings.load(null, Map.of());
    assertThat(Components.embedder(s).maxTokens()).isEqualTo(256);
    assertThat(Components.chunker(s).maxTokens()).isEqualTo(160);
    assertThat(Components.indexer(s).embedMaxBatch()).isEqualTo(32);
    assertThat(Components.queryService(s).httpPort()).isEqualTo(8080);
    assertThat(Components.queryService(s).rerankDepth()).isEqualTo(100);
    assertThat(Components.queryService(s.with("search.rerank-depth", 40)).rerankDepth()).isEqualTo(40);
    assertThatThrownBy(() -> Components.queryService(s.with("search.rerank-depth", 0)))
        .hasMessageContaining("rerankDepth");
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
}
