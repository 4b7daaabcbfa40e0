package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.index.IndexConfig;
import io.d2search.index.ModelVersionMismatchException;
import io.d2search.index.PassageIndex;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SearchServiceTest {
  private static Embedder embedder;

  @BeforeAll
  static void load() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  @AfterAll
  static void close() {
    embedder.close();
  }

  @Test
  void refusesAnIndexOfAnotherModelVersion(@TempDir Path dir) {
    try (PassageIndex index = PassageIndex.open(dir, "other", IndexConfig.defaults())) {
      assertThatThrownBy(() -> new SearchService(index, embedder, new SimpleMeterRegistry(), null))
          .isInstanceOf(ModelVersionMismatchException.class);
    }
  }

  @Test
  void searchesAndTimesAndValidates(@TempDir Path dir) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (PassageIndex index = PassageIndex.open(dir, embedder.info().version(), IndexConfig.defaults())) {
      index.upsert("cats#0", HttpApiTest.embedding(embedder, "cats", 0, "Cats", "A cat is a small pet."));
      index.refresh();
      SearchService search = new SearchService(index, embedder, registry, null);
      SearchResult result = search.search("kitten", 5);
      assertThat(result.hits()).extracting(h -> h.passageId()).containsExactly("cats#0");
      assertThat(result.modelVersion()).isEqualTo(embedder.info().version());
      assertThat(registry.get("d2search.search.latency").timer().count()).isEqualTo(1);
      assertThat(search.eventsEnabled()).isFalse();
      assertThat(search.recordClick(result.queryId(), "cats#0", 1, 0)).isFalse();

      assertThatThrownBy(() -> search.search(" ", 5)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("x".repeat(SearchService.MAX_QUERY_CHARS + 1), 5))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("cats", 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.search("cats", SearchService.MAX_K + 1))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "no-hash", 1, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "a#0", 0, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> search.recordClick("q", "a#0", 1, -1)).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
