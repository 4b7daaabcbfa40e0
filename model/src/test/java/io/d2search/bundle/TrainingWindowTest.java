package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The typed training window reads the manifests {@code distill} writes, today's and the first format's, field for
 * field, and writes them back byte for byte.
 */
class TrainingWindowTest {

  /** A manifest as {@code distill} writes it today (pseudo-queries of the teacher's pick, a frozen PMA, seed 7). */
  private static final String TODAY = "/manifests/distill-today.json";
  /** One from the first {@code distill}: no held-out kind, judged-training flag, positive or negatives' depth. */
  private static final String FIRST = "/manifests/distill-first-window.json";

  @Test
  void readsEveryFieldOfTodaysManifest() throws IOException {
    byte[] json = resource(TODAY);
    Manifest manifest = Manifest.fromJson(json);

    TrainingWindow window = manifest.trainingWindow().orElseThrow();

    assertThat(window.source()).isEqualTo("beir");
    assertThat(window.dataset()).isEqualTo("scifact-slice");
    assertThat(window.split()).isEqualTo("train");
    assertThat(window.queries()).isEqualTo(48);
    assertThat(window.judgedTraining()).isFalse();
    assertThat(window.heldOutQueries()).isEqualTo(24);
    assertThat(window.heldOutKind()).isEqualTo("unseen");
    assertThat(window.pseudoQueries()).isEqualTo(new TrainingWindow.PseudoQueries(24, "last sentence of 8-40 words",
        "the teacher's best of K + 1 mined, its document left out"));
    assertThat(window.negatives()).isEqualTo(new TrainingWindow.Negatives(3, 2, 100, "bundle 0 HNSW", "bm25"));
    assertThat(manifest.trainingSeed()).hasValue(7);
    assertRoundTrips(json, manifest, window);
  }

  @Test
  void readsAManifestOfTheFirstFormatWithTheFieldsItLacksAbsent() throws IOException {
    byte[] json = resource(FIRST);
    Manifest manifest = Manifest.fromJson(json);

    TrainingWindow window = manifest.trainingWindow().orElseThrow();

    assertThat(window).isEqualTo(new TrainingWindow("beir", "scifact", "train", 809, null, 81, null,
        new TrainingWindow.PseudoQueries(0, "document title -> its document", null),
        new TrainingWindow.Negatives(7, 4, null, "bundle 0 HNSW", "bm25")));
    assertThat(manifest.trainingSeed()).as("a seed beyond int").hasValue(8589934597L);
    assertRoundTrips(json, manifest, window);
  }

  /** The window's map is the manifest's section, and a manifest built from it writes the same bytes. */
  private static void assertRoundTrips(byte[] json, Manifest manifest, TrainingWindow window) {
    assertThat(window.toMap()).isEqualTo(manifest.training().get(TrainingWindow.KEY));
    assertThat(TrainingWindow.fromMap(window.toMap())).isEqualTo(window);
    Map<String, Object> training = new LinkedHashMap<>(manifest.training());
    training.put(TrainingWindow.KEY, window.toMap());
    Manifest rebuilt = new Manifest(manifest.formatVersion(), manifest.version(), manifest.parent(),
        manifest.backbone(), manifest.dimension(), manifest.pooling(), manifest.iem(), manifest.weights(), training,
        manifest.metrics(), manifest.createdAt());
    assertThat(new String(rebuilt.toJson(), StandardCharsets.UTF_8))
        .isEqualTo(new String(json, StandardCharsets.UTF_8));
  }

  @Test
  void writesTheKeysDistillHasAlwaysWrittenInItsOrder() {
    TrainingWindow window = new TrainingWindow("beir", "scifact", "train", 809, true, 81, "random",
        new TrainingWindow.PseudoQueries(100, "document title", "its document"),
        new TrainingWindow.Negatives(15, 12, 100, "bundle 4 HNSW", "bm25"));

    assertThat(window.toMap().keySet()).containsExactly("source", "dataset", "split", "queries", "judgedTraining",
        "heldOutQueries", "heldOutKind", "pseudoQueries", "negatives");
    assertThat(window.toMap().get("pseudoQueries")).isEqualTo(Map.of("count", 100, "kind", "document title",
        "positive", "its document"));
    assertThat(window.toMap().get("negatives")).isEqualTo(Map.of("k", 15, "fromIndex", 12, "indexDepth", 100,
        "index", "bundle 4 HNSW", "lexical", "bm25"));
    assertThat(TrainingWindow.fromMap(window.toMap())).isEqualTo(window);
    assertThat(TrainingWindow.fromMap(Map.of("source", "synthetic")).toMap()).isEqualTo(Map.of("source", "synthetic"));
    assertThat(TrainingWindow.fromMap(Map.of())).isEqualTo(new TrainingWindow(null, null, null, null, null, null, null,
        null, null));
  }

  @Test
  void aManifestWithoutAWindowHasNone() {
    assertThat(TrainingWindow.in(null)).isEmpty();
    assertThat(TrainingWindow.in(Map.of("teacher", "t"))).isEmpty();
    assertThat(TrainingWindow.seedIn(null)).isEmpty();
    assertThat(TrainingWindow.seedIn(Map.of("trainer", Map.of("epochs", 3)))).isEmpty();
    assertThat(TrainingWindow.in(Map.of("data", Map.of("source", "clicks")))).hasValue(
        new TrainingWindow("clicks", null, null, null, null, null, null, null, null));
  }

  @Test
  void sameDataMeansSameSourceDatasetAndSplit() {
    TrainingWindow a = new TrainingWindow("beir", "scifact", "train", 809, true, 81, "unseen", null, null);
    assertThat(a.sameData(new TrainingWindow("beir", "scifact", "train", 12, false, 3, "random", null, null))).isTrue();
    assertThat(a.sameData(new TrainingWindow("beir", "scifact", "dev", 809, true, 81, "unseen", null, null))).isFalse();
    assertThat(a.sameData(new TrainingWindow("beir", "nfcorpus", "train", 809, true, 81, "unseen", null, null)))
        .isFalse();
    assertThat(a.sameData(new TrainingWindow(null, "scifact", "train", 809, true, 81, "unseen", null, null))).isFalse();
  }

  @Test
  void refusesValuesOfTheWrongType() {
    for (Map<String, Object> data : List.<Map<String, Object>>of(Map.of("queries", "48"), Map.of("heldOutQueries", 2.5),
        Map.of("queries", 1L << 40), Map.of("judgedTraining", "yes"), Map.of("split", 1),
        Map.of("negatives", List.of()), Map.of("negatives", Map.of("k", 3)),
        Map.of("pseudoQueries", Map.of("kind", "document title")))) {
      assertThatThrownBy(() -> TrainingWindow.fromMap(data)).as("%s", data).isInstanceOf(BundleException.class)
          .hasMessageStartingWith("manifest training.data.");
    }
    assertThatThrownBy(() -> TrainingWindow.in(Map.of("data", "scifact"))).isInstanceOf(BundleException.class)
        .hasMessageContaining("training.data must be an object");
    assertThatThrownBy(() -> TrainingWindow.seedIn(Map.of("trainer", Map.of("seed", "7"))))
        .isInstanceOf(BundleException.class).hasMessageContaining("training.trainer.seed must be an integer");
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = TrainingWindowTest.class.getResourceAsStream(name)) {
      assertThat(in).as(name).isNotNull();
      return in.readAllBytes();
    }
  }
}
