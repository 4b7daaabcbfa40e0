package io.d2search.app;

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
import io.d2search.ingest.CorpusDocument;
import io.d2search.ingest.CorpusFile;
import io.d2search.schemas.AttributeSchema;
import io.d2search.serve.HttpApi;
import io.d2search.serve.SearchService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code d2search search} against a real query service over the bundled sample corpus, indexed with the attributes
 * its JSONL carries: modes, filters and explain as a user types them.
 */
class SearchCommandTest {
  @TempDir static Path dir;
  private static Embedder embedder;
  private static PassageIndex index;
  private static EmbeddingsMaterializer materializer;
  private static HttpApi api;

  @BeforeAll
  static void start() throws Exception {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
    index = PassageIndex.open(dir.resolve("index"), embedder.info().version(),
        IndexConfig.defaults().withAttributes(AttributeSchema.parse("words:long")));
    Path sample = Path.of(SearchCommandTest.class.getResource("/sample/documents.jsonl").toURI());
    for (CorpusDocument d : CorpusFile.read(sample).values()) { // one passage per document is enough here
      String text = EmbedText.of(d.title(), d.text());
      List<Float> vector = new ArrayList<>();
      for (float x : embedder.embed(text)) {
        vector.add(x);
      }
      index.upsert(d.id() + "#0", PassageEmbedding.newBuilder().setDocId(d.id()).setN(0)
          .setModelVersion(embedder.info().version()).setVector(vector).setTextHash(TextHash.sha256(text))
          .setTitle(d.title()).setText(d.text()).setUrl(d.url()).setDocVersion(1).setAttributes(d.attributes())
          .build());
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

  private static String search(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      List<String> all = new ArrayList<>(List.of("search", "--url", "http://127.0.0.1:" + api.port()));
      all.addAll(List.of(args));
      int exit = Main.commandLine().execute(all.toArray(String[]::new));
      assertThat(exit).as(out.toString(StandardCharsets.UTF_8)).isZero();
    } finally {
      System.setOut(original);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theSampleCorpusCarriesItsAttributes() throws Exception {
    Path sample = Path.of(SearchCommandTest.class.getResource("/sample/documents.jsonl").toURI());
    CorpusDocument chain = CorpusFile.read(sample).get("kb-018-replacing-worn-bicycle-chain");
    assertThat(chain.attributes()).containsEntry("category", "cycling").containsEntry("audience", "public")
        .containsKey("words");
  }

  @Test
  void searchesInEachModeWithFiltersAndExplains() {
    String hybrid = search("-k", "3", "--explain", "my", "bike", "chain", "skips");
    assertThat(hybrid).contains("hybrid retrieval").contains("kb-018-replacing-worn-bicycle-chain#0")
        .contains("\"category\":\"cycling\"").contains("(score: ");

    String keyword = search("--mode", "keyword", "-k", "5", "--explain", "parental", "leave");
    assertThat(keyword).contains("keyword retrieval").contains("kb-045-parental-leave-policy#0").contains("vector -");

    // Only employees' documents, then only short public ones: every line printed belongs to the filter.
    String internal = search("-k", "5", "--filter", "{\"audience\": \"employees\"}", "how", "do", "I", "get", "money");
    assertThat(internal).contains("\"audience\":\"employees\"").doesNotContain("\"audience\":\"public\"");
    String shortPublic = search("-k", "10", "--filter", "{\"audience\": \"public\", \"words\": {\"lt\": 140}}",
        "tips");
    assertThat(shortPublic).doesNotContain("\"audience\":\"employees\"");
    for (String line : shortPublic.lines().filter(l -> l.contains("\"words\":")).toList()) {
      int words = Integer.parseInt(line.replaceAll(".*\"words\":\"(\\d+)\".*", "$1"));
      assertThat(words).as(line).isLessThan(140);
    }
  }

  @Test
  void aBadFilterPrintsTheServicesReasonAndFails() {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int exit;
    try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      exit = Main.commandLine().execute("search", "--url", "http://127.0.0.1:" + api.port(), "--filter",
          "{\"category\": {\"gte\": 3}}", "bikes");
    } finally {
      System.setOut(original);
    }
    assertThat(exit).isEqualTo(1);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("a range needs a long, double or date attribute");
  }
}
