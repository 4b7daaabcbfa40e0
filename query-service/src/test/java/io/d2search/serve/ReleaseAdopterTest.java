package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.DirectoryBundleStore;
import io.d2search.bundle.ModelBundle;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.index.IndexConfig;
import io.d2search.index.PassageIndex;
import io.d2search.index.RetrievalMode;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHeads;
import io.d2search.testkit.Randomized;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hot-swap rules without Kafka: real bundles on disk (version 0 of the bundled model, and children written as
 * the distiller writes them), a real index of {@link HttpApiTest#CORPUS} embedded by version 0, a real
 * {@link SearchService} whose re-ranker the {@link ReleaseAdopter} replaces or keeps.
 */
class ReleaseAdopterTest {
  private static final String QUERY = "a pet kitten";
  private static final String WRONG_SHA = "ab".repeat(32);

  @TempDir static Path dir;
  private static DirectoryBundleStore store;
  private static ModelBundle zero;
  private static ModelBundle reversing; // "1": HEADS, an IEM that reverses the HNSW order
  private static ModelBundle other; // "2": HEADS, a random IEM
  private static ModelBundle headless; // "3": HEADS without an IEM
  private static ModelBundle full; // "4": other pooling
  private static Embedder embedder;
  private static PassageIndex index;

  private SimpleMeterRegistry registry;
  private ReleaseLedger ledger;
  private SearchService search;
  private ReleaseAdopter adopter;

  @BeforeAll
  static void bundlesAndIndex() {
    store = new DirectoryBundleStore(dir.resolve("bundles"));
    zero = ModelBundle.versionZero(store.root(), BackboneSource.MINILM_L6_V2, 256);
    int d = zero.manifest().dimension();
    reversing = TestBundles.heads(store.dirOf("1"), zero, "1", IemHeads.negatedSimilarity(d));
    other = TestBundles.heads(store.dirOf("2"), zero, "2",
        IemHeads.random(Randomized.random("ReleaseAdopterTest"), IemHead.Input.CONCAT, d, 8));
    headless = TestBundles.heads(store.dirOf("3"), zero, "3", null);
    full = TestBundles.otherPooling(store.dirOf("4"), zero, "4", IemHeads.constant(d));
    embedder = zero.embedder(new EmbedderConfig("ignored", BackboneSource.MINILM_L6_V2, 256, 16, 2,
        ExecutionProvider.CPU));
    index = PassageIndex.open(dir.resolve("index"), zero.version(), IndexConfig.defaults());
    for (String[] doc : HttpApiTest.CORPUS) {
      index.upsert(doc[0] + "#0", HttpApiTest.embedding(embedder, doc[0], 0, doc[1], doc[2]));
    }
    index.refresh();
  }

  @AfterAll
  static void close() {
    if (index != null) {
      index.close();
    }
    if (embedder != null) {
      embedder.close();
    }
  }

  @BeforeEach
  void serveVersionZero() {
    registry = new SimpleMeterRegistry();
    // Vector order, re-ranked by the logit alone: the reversing head turns the order around, visibly.
    SearchConfig config = SearchConfig.DEFAULTS.withMode(RetrievalMode.VECTOR).withRerankFirstStageWeight(0);
    search = new SearchService(index, embedder, null, config, registry, null,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
    ledger = new ReleaseLedger(registry);
    adopter = new ReleaseAdopter(search, zero, store, ledger);
  }

  private static List<String> ids(SearchResult result) {
    return result.hits().stream().map(RankedHit::passageId).toList();
  }

  private double count(ReleaseOutcome.Kind kind) {
    return registry.get("d2search.model.releases").tag("outcome", kind.label()).counter().count();
  }

  @Test
  void adoptsAHeadsReleaseBetweenTwoSearches() {
    Instant started = search.serving().since();
    SearchResult before = search.search(QUERY, 5);
    assertThat(before.modelVersion()).isEqualTo("0");
    assertThat(before.reranked()).isFalse();
    assertThat(ids(before).getFirst()).isEqualTo("cats#0");

    ReleaseOutcome outcome = adopter.apply(TestBundles.release(reversing, ReleaseKind.HEADS));
    assertThat(outcome.kind()).as(outcome.reason()).isEqualTo(ReleaseOutcome.Kind.ADOPTED);
    assertThat(outcome.reason()).isEqualTo("replaced 0");

    SearchResult after = search.search(QUERY, 5);
    assertThat(after.modelVersion()).isEqualTo("1");
    assertThat(after.reranked()).isTrue();
    assertThat(ids(after)).containsExactlyElementsOf(ids(before).reversed());
    assertThat(search.serving().version()).isEqualTo("1");
    assertThat(search.serving().since()).isAfterOrEqualTo(started);
    assertThat(search.iem()).isPresent();
    assertThat(adopter.servingBundle().checksum()).isEqualTo(reversing.checksum());
    assertThat(count(ReleaseOutcome.Kind.ADOPTED)).isEqualTo(1);
    assertThat(registry.get("d2search.model.swap").timer().count()).isEqualTo(1);
    assertThat(ledger.status(true)).isEqualTo(new ReleaseStatus(true, true, 1, 0, 0, 0, null, null));
  }

  @Test
  void ignoresTheReleaseAlreadyServing() {
    assertThat(adopter.apply(TestBundles.release(zero, ReleaseKind.HEADS)).kind())
        .isEqualTo(ReleaseOutcome.Kind.IGNORED);
    assertThat(search.serving().version()).isEqualTo("0");
    assertThat(count(ReleaseOutcome.Kind.IGNORED)).isEqualTo(1);
    assertThat(count(ReleaseOutcome.Kind.ADOPTED)).isZero();
  }

  /**
   * A canary is team-draft interleaved with the serving model (every search here: share 1): the vector order and its
   * reverse, each result picked by one of them; refused when it cannot be interleaved; a tombstone withdraws it and a
   * CURRENT release of its version (a promotion) ends it.
   */
  @Test
  void aCanaryIsInterleavedWithTheServingModelUntilWithdrawnOrPromoted() {
    SearchConfig config = SearchConfig.DEFAULTS.withMode(RetrievalMode.VECTOR).withRerankFirstStageWeight(0)
        .withCanaryShare(1.0);
    search = new SearchService(index, embedder, null, config, registry, null,
        new IssuedQueries(IssuedQueries.Policy.defaults()));
    adopter = new ReleaseAdopter(search, zero, store, ledger);
    List<String> vectorOrder = ids(search.search(QUERY, 5));

    ModelRelease canary = TestBundles.as(TestBundles.release(reversing, ReleaseKind.HEADS), ReleaseKind.HEADS,
        ReleaseStage.CANARY);
    assertThat(adopter.apply(canary).kind()).isEqualTo(ReleaseOutcome.Kind.CANARY);
    assertThat(adopter.apply(canary).kind()).as("already the canary").isEqualTo(ReleaseOutcome.Kind.IGNORED);
    for (int i = 0; i < 20; i++) {
      SearchResult r = search.search(QUERY, 5);
      assertThat(r.modelVersion()).isEqualTo("0");
      assertThat(r.canaryVersion()).isEqualTo("1");
      assertThat(ids(r)).containsExactlyInAnyOrderElementsOf(vectorOrder);
      // The first pick is the top of whichever team picked first; the teams are 3 and 2.
      RankedHit first = r.hits().getFirst();
      assertThat(first.passageId()).isEqualTo(first.team() == io.d2search.events.Team.CURRENT
          ? vectorOrder.getFirst() : vectorOrder.getLast());
      assertThat(r.hits().stream().filter(h -> h.team() == io.d2search.events.Team.CURRENT).count()).isBetween(2L, 3L);
    }
    assertThat(registry.get("d2search.search.interleaved").counter().count()).isEqualTo(20);

    ModelRelease otherVectors = TestBundles.as(TestBundles.release(full, ReleaseKind.FULL), ReleaseKind.FULL,
        ReleaseStage.CANARY);
    assertThat(adopter.apply(otherVectors).reason()).contains("over the serving passage vectors only");
    assertThat(adopter.apply(TestBundles.as(TestBundles.release(headless, ReleaseKind.HEADS), ReleaseKind.HEADS,
        ReleaseStage.CANARY)).reason()).contains("has no IEM head");
    assertThat(search.canary().orElseThrow().version()).as("refusals keep the canary").isEqualTo("1");

    adopter.withdrawCanary("model-releases@7");
    assertThat(search.canary()).isEmpty();
    assertThat(search.search(QUERY, 5).canaryVersion()).isNull();

    adopter.apply(canary);
    assertThat(adopter.apply(TestBundles.release(reversing, ReleaseKind.HEADS)).kind())
        .isEqualTo(ReleaseOutcome.Kind.ADOPTED);
    assertThat(search.canary()).as("promoted").isEmpty();
    SearchResult promoted = search.search(QUERY, 5);
    assertThat(promoted.modelVersion()).isEqualTo("1");
    assertThat(promoted.canaryVersion()).isNull();
    assertThat(ids(promoted)).containsExactlyElementsOf(vectorOrder.reversed());
  }

  @Test
  void refusesWhatItCannotServeAndKeepsServingThePreviousVersion() {
    adopter.apply(TestBundles.release(reversing, ReleaseKind.HEADS));
    List<String> served = ids(search.search(QUERY, 5));
    ModelRelease good = TestBundles.release(other, ReleaseKind.HEADS);
    Object[][] refusals = {
        {TestBundles.withSha256(good, WRONG_SHA), other.checksum()},
        {TestBundles.withSha256(good, WRONG_SHA), WRONG_SHA},
        {TestBundles.as(good, ReleaseKind.FULL, ReleaseStage.CURRENT),
            "ranks over other passage vectors (embeddings.2); this service does not build other vector spaces"},
        {TestBundles.release(full, ReleaseKind.HEADS),
            "release 4 names the serving embeddings topic embeddings but does not embed passages as model 0 does"},
        {TestBundles.release(full, ReleaseKind.FULL), "does not build other vector spaces"},
        {TestBundles.release(headless, ReleaseKind.HEADS), "has no IEM head"},
        {TestBundles.release("9", "0", store.uriOf("9").toString(), WRONG_SHA, ReleaseKind.HEADS,
            ReleaseStage.CURRENT), "no manifest.json"},
        {TestBundles.release("2", "0", dir.resolve("elsewhere/2").toUri().toString(), other.checksum(),
            ReleaseKind.HEADS, ReleaseStage.CURRENT), "outside the bundle store"},
        {TestBundles.release("2", "0", "s3://bundles/2", other.checksum(), ReleaseKind.HEADS, ReleaseStage.CURRENT),
            "not a file: URI"},
        {TestBundles.release("2", "0", "file:// not a uri", other.checksum(), ReleaseKind.HEADS,
            ReleaseStage.CURRENT), "not a uri"},
        {TestBundles.release("5", "0", other.directory().toUri().toString(), other.checksum(), ReleaseKind.HEADS,
            ReleaseStage.CURRENT), "which is version 2"},
        {TestBundles.withSha256(TestBundles.release(reversing, ReleaseKind.HEADS), other.checksum()),
            "bundles are immutable"},
    };
    for (Object[] refusal : refusals) {
      ModelRelease release = (ModelRelease) refusal[0];
      ReleaseOutcome outcome = adopter.apply(release);
      assertThat(outcome.kind()).as(outcome.reason()).isEqualTo(ReleaseOutcome.Kind.REFUSED);
      assertThat(outcome.reason()).contains((String) refusal[1]);
      SearchResult result = search.search(QUERY, 5);
      assertThat(result.modelVersion()).isEqualTo("1");
      assertThat(ids(result)).containsExactlyElementsOf(served);
    }
    assertThat(adopter.servingBundle().version()).isEqualTo("1");
    ReleaseStatus status = ledger.status(true);
    assertThat(status.adopted()).isEqualTo(1);
    assertThat(status.refused()).isEqualTo(refusals.length);
    assertThat(status.lastRefused().version()).isEqualTo("1");
    assertThat(status.lastRefused().reason()).contains(other.checksum()).contains(reversing.checksum());
  }

  @Test
  void refusesABundleWhoseWeightsWereCorruptedAfterWriting() throws Exception {
    ModelBundle corrupt = TestBundles.heads(store.dirOf("6"), zero, "6", IemHeads.constant(384));
    Path weights = corrupt.directory().resolve(ModelBundle.WEIGHTS_FILE);
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length / 2] ^= 0x01;
    Files.write(weights, bytes);
    ReleaseOutcome outcome = adopter.apply(TestBundles.release(corrupt, ReleaseKind.HEADS));
    assertThat(outcome.kind()).isEqualTo(ReleaseOutcome.Kind.REFUSED);
    assertThat(outcome.reason()).contains("heads.safetensors").contains("corrupt or replaced weights");
    assertThat(search.serving().version()).isEqualTo("0");
  }

  @Test
  void rollsBackToTheBundleItStartedWith() {
    adopter.apply(TestBundles.release(reversing, ReleaseKind.HEADS));
    assertThat(search.search(QUERY, 5).reranked()).isTrue();
    ReleaseOutcome back = adopter.apply(TestBundles.release(zero, ReleaseKind.HEADS));
    assertThat(back.kind()).as(back.reason()).isEqualTo(ReleaseOutcome.Kind.ADOPTED);
    SearchResult result = search.search(QUERY, 5);
    assertThat(result.modelVersion()).isEqualTo("0");
    assertThat(result.reranked()).isFalse();
    assertThat(ids(result).getFirst()).isEqualTo("cats#0");
    assertThat(search.iem()).isEmpty();
  }

  @Test
  void aSearchServiceRefusesAHeadOfAnotherDimensionAndKeepsItsModel() {
    ServingModel before = search.serving();
    assertThatThrownBy(() -> search.adopt("x", IemHeads.constant(383))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dimension 383");
    assertThat(search.serving()).isSameAs(before);
    assertThatThrownBy(() -> new ReleaseAdopter(search, reversing, store, ledger))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
