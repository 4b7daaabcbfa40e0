package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.events.PassageEmbedding;
import io.d2search.index.EmbeddingsMaterializer;
import io.d2search.index.IndexConfig;
import io.d2search.index.MaterializerConfig;
import io.d2search.index.PassageIndex;
import io.d2search.serve.HttpApi;
import io.d2search.serve.SearchService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The click simulator against a real query service: it searches, and clicks what its model says, accepted. */
class ClickSimulatorTest {
  private static final String[][] DOCS = {
      {"cats", "Cats", "The domestic cat is a small carnivorous mammal often kept as a pet."},
      {"bread", "Baking", "Bread is made from flour, water, salt and yeast, then baked in an oven."},
      {"volcano", "Volcanoes", "A volcano erupts when molten rock rises through the earth's crust."},
      {"chess", "Chess", "Chess is a board game for two players who move sixteen pieces each."}};

  @TempDir static Path dir;
  private static Embedder embedder;
  private static PassageIndex index;
  private static EmbeddingsMaterializer materializer;
  private static HttpApi api;

  @BeforeAll
  static void start() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
    index = PassageIndex.open(dir.resolve("index"), embedder.info().version(), IndexConfig.defaults());
    for (String[] d : DOCS) {
      String text = EmbedText.of(d[1], d[2]);
      List<Float> vector = new ArrayList<>();
      for (float x : embedder.embed(text)) {
        vector.add(x);
      }
      index.upsert(d[0] + "#0", PassageEmbedding.newBuilder().setDocId(d[0]).setN(0)
          .setModelVersion(embedder.info().version()).setVector(vector).setTextHash(TextHash.sha256(text))
          .setTitle(d[1]).setText(d[2]).setDocVersion(1).build());
    }
    index.refresh();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    materializer = EmbeddingsMaterializer.start(index, MaterializerConfig.defaults("127.0.0.1:1"), registry);
    api = HttpApi.start("127.0.0.1", 0, new SearchService(index, embedder, registry, null), materializer, registry);
  }

  @AfterAll
  static void stop() {
    api.close();
    materializer.close();
    index.close();
    embedder.close();
  }

  @Test
  void aPlanKeepsTheOrderItsQueriesCameIn() {
    Map<String, String> queries = new LinkedHashMap<>();
    for (int i = 40; i > 0; i--) {
      queries.put("q" + (i * 7919 % 101), "query " + i);
    }
    ClickSimulator.Plan plan = new ClickSimulator.Plan(queries, Map.of(), 10, 1, 0.8, 0.05, 20, 0, null);
    assertThat(List.copyOf(plan.queries().keySet())).containsExactlyElementsOf(queries.keySet());
    queries.clear();
    assertThat(plan.queries()).as("a copy").hasSize(40);
  }

  private static ClickSimulator.Plan plan(double eta, double relevant, double noise, long seed) {
    Map<String, String> queries = new LinkedHashMap<>();
    queries.put("q1", "a pet kitten");
    queries.put("q2", "how is bread baked");
    queries.put("q3", "lava and eruptions");
    Map<String, Map<String, Integer>> qrels = Map.of("q1", Map.of("cats", 1), "q2", Map.of("bread", 1),
        "q3", Map.of("volcano", 1));
    return new ClickSimulator.Plan(queries, qrels, 4, eta, relevant, noise, 50, seed, null);
  }

  @Test
  void usersWhoReadEverythingAndClickOnlyRelevantResultsClickExactlyTheJudgedDocuments() throws Exception {
    List<Integer> progress = new ArrayList<>();
    ClickSimulator.Report report = new ClickSimulator(URI.create("http://127.0.0.1:" + api.port()))
        .run(plan(0, 1, 0, 1), progress::add);
    assertThat(report.searches()).isEqualTo(3);
    assertThat(report.clicks()).isEqualTo(3).isEqualTo(report.relevantClicks());
    assertThat(report.refused()).isZero();
    assertThat(report.failed()).isZero();
    assertThat(progress).containsExactly(1, 2, 3);
  }

  @Test
  void noUserClicksWhenNothingIsExaminedOrAttractiveAndTheSameSeedClicksAlike() throws Exception {
    ClickSimulator simulator = new ClickSimulator(URI.create("http://127.0.0.1:" + api.port()));
    assertThat(simulator.run(plan(1, 0, 0, 1), n -> { }).clicks()).isZero();
    ClickSimulator.Report a = simulator.run(plan(1, 0.7, 0.3, 42), n -> { });
    ClickSimulator.Report b = simulator.run(plan(1, 0.7, 0.3, 42), n -> { });
    assertThat(a.clicks()).isEqualTo(b.clicks());
    assertThat(a.relevantClicks()).isEqualTo(b.relevantClicks());
    assertThat(a.longClicks()).isEqualTo(b.longClicks());
  }
}
