package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.embed.EmbedderConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What ReleaseEmbedders refuses before it starts anything (its work is FullReleaseIT's subject, in app). */
class ReleaseEmbeddersTest {
  @TempDir Path dir;

  @Test
  void aRateSoLowThatABatchWouldOutwaitItsTransactionIsRefused() {
    IndexerConfig indexer = IndexerConfig.defaults("127.0.0.1:9", dir.resolve("state")).withEmbedBatching(32, 20);
    ReleaseEmbedders.Config slow = new ReleaseEmbedders.Config(new DirectoryBundleStore(dir.resolve("bundles")),
        EmbedderConfig.defaults(), 1.0, Duration.ofMinutes(1));
    assertThatThrownBy(() -> new ReleaseEmbedders(indexer, slow, new SimpleMeterRegistry(), 1 << 20))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("indexer.reembed.max-rate 1.0 is too low for embed.max-batch 32")
        .hasMessageContaining("at least");
    assertThat(ReleaseEmbedders.applicationId(indexer, "loop-3")).isEqualTo("d2search-embedder-loop-3");
  }

  @Test
  void negativeRatesAreRefused() {
    assertThatThrownBy(() -> new ReleaseEmbedders.Config(new DirectoryBundleStore(dir.resolve("bundles")),
        EmbedderConfig.defaults(), -1, Duration.ofMinutes(1))).isInstanceOf(IllegalArgumentException.class);
  }
}
