package io.d2search.app;

import io.d2search.config.Settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Tensor;
import io.d2search.embed.Embedder;
import io.d2search.embed.PmaHead;
import io.d2search.nn.Linear;
import io.d2search.rank.IemHead;
import io.d2search.serve.QueryService;
import io.d2search.serve.SearchResult;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The query service gets the IEM head of the bundle that setting model.version names, and the re-ranking depth. */
class ComponentsTest {
  @TempDir Path dir;

  private Settings settings(String version) {
    // No broker: the materialiser keeps retrying, which is all a wiring test needs.
    return Settings.load(null, Map.of()).with("data.dir", dir).with("model.version", version)
        .with("model.provider", "CPU").with("kafka.bootstrap.servers", "127.0.0.1:1")
        .with("http.host", "127.0.0.1").with("http.port", 0).with("search.impressions", false)
        .with("search.rerank-depth", 40);
  }

  /** Version 1: version 0's backbone and PMA head plus a (constant) IEM head. */
  private static void writeVersionOne(ModelBundle zero) {
    int d = zero.manifest().dimension();
    IemHead iem = new IemHead(IemHead.Input.CONCAT, Linear.zeros(8, 2 * d), Linear.zeros(8, 8), Linear.zeros(8, 8),
        Linear.of(1, 8, new float[8], new float[] {0.5f}));
    Manifest m = zero.manifest();
    Manifest one = new Manifest(Manifest.FORMAT_VERSION, "1", zero.version(), m.backbone(), d, m.pooling(),
        Manifest.IemSpec.of(iem.input(), iem.hidden()), null, null, Map.of(), "2026-01-01T00:00:00Z");
    Map<String, Tensor> tensors = new TreeMap<>(HeadTensors.of((PmaHead) zero.pooling()));
    tensors.putAll(HeadTensors.of(iem));
    ModelBundle.write(zero.directory().resolveSibling("1"), one, tensors);
  }

  @Test
  void queryServiceReranksWithTheIemOfTheConfiguredBundleAndNotWithVersionZero() {
    Settings zeroSettings = settings(ModelBundle.VERSION_ZERO);
    ModelBundle zero = Components.serviceBundle(zeroSettings);
    assertThat(zero.iem()).isEmpty();
    writeVersionOne(zero);

    for (Settings s : new Settings[] {zeroSettings, settings("1")}) {
      ModelBundle bundle = Components.serviceBundle(s);
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      try (Embedder embedder = Components.serviceEmbedder(s, bundle);
          QueryService service = Components.startQueryService(s, bundle, embedder, registry)) {
        boolean hasIem = bundle.iem().isPresent();
        assertThat(hasIem).isEqualTo(bundle.version().equals("1"));
        assertThat(service.search().iem()).isEqualTo(bundle.iem());
        assertThat(service.releases()).as("model.releases.enabled").isPresent();
        assertThat(service.search().serving().version()).isEqualTo(bundle.version());
        assertThat(service.search().rerankDepth()).isEqualTo(40);
        SearchResult result = service.search().search("a question", 5);
        assertThat(result.modelVersion()).isEqualTo(bundle.version());
        assertThat(result.reranked()).isEqualTo(hasIem);
      } finally {
        registry.close();
      }
    }
  }

  @Test
  void everyDefaultIsDocumentedAndComponentsBuildFromThem() {
    Settings s = Settings.load(null, Map.of());
    assertThat(Components.embedder(s).maxTokens()).isEqualTo(256);
    assertThat(Components.chunker(s).maxTokens()).isEqualTo(160);
    assertThat(Components.indexer(s).embedMaxBatch()).isEqualTo(32);
    assertThat(Components.queryService(s).httpPort()).isEqualTo(8080);
    assertThat(Components.queryService(s).search().rerankDepth()).isEqualTo(100);
    assertThat(Components.queryService(s).releasesEnabled()).isTrue();
    assertThat(Components.queryService(s.with("model.releases.enabled", false)).releasesEnabled()).isFalse();
    assertThat(Components.bundleStore(s.with("model.bundles-dir", "/srv/bundles")).uriOf("3").toString())
        .isEqualTo("file:///srv/bundles/3");
    assertThat(Components.queryService(s).search().mode()).isEqualTo(io.d2search.index.RetrievalMode.HYBRID);
    assertThat(Components.queryService(s.with("search.rerank-depth", 40)).search().rerankDepth()).isEqualTo(40);
    assertThat(Components.queryService(s.with("search.fusion", "score")).search().fusion().method())
        .isEqualTo(io.d2search.index.Fusion.Method.SCORE);
    assertThatThrownBy(() -> Components.queryService(s.with("search.mode", "semantic")))
        .hasMessageContaining("vector, keyword or hybrid");
    assertThatThrownBy(() -> Components.indexer(s.with("index.attributes", "year")))
        .hasMessageContaining("name:type");
    assertThatThrownBy(() -> Components.queryService(s.with("search.rerank-depth", 0)))
        .hasMessageContaining("rerankDepth");
  }

  /** Reliability issue, finding 4: the data directory is created owner-only. */
  @Test
  void theDataDirectoryIsCreatedOwnerOnly(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
    java.nio.file.Path dir = tmp.resolve("fresh/data");
    Components.dataDir(Settings.load(null, Map.of()).with("data.dir", dir));
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(dir)))
        .isEqualTo("rwx------");
  }

  /** Static membership: indexer.instance-id reaches the Streams main consumers only, beside the client settings. */
  @Test
  void theIndexerInstanceIdMakesItsMainConsumersStaticMembers() {
    Settings s = Settings.defaults().with("kafka.client.security.protocol", "PLAINTEXT");
    assertThat(Components.indexer(s).streamsOverrides()).containsEntry("security.protocol", "PLAINTEXT")
        .doesNotContainKeys("group.instance.id", "main.consumer.group.instance.id");
    assertThat(Components.indexer(s.with("indexer.instance-id", "indexer-2")).streamsOverrides())
        .containsEntry("main.consumer.group.instance.id", "indexer-2").containsEntry("security.protocol", "PLAINTEXT")
        .doesNotContainKey("group.instance.id");
  }
}
