package io.d2search.loop;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.bundle.ModelBundle;
import io.d2search.data.BeirDataset;
import io.d2search.distill.LossConfig;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.events.ExampleSource;
import io.d2search.events.ModelRelease;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.ReleaseKind;
import io.d2search.events.TrainingExample;
import io.d2search.index.Fusion;
import io.d2search.index.IndexConfig;
import io.d2search.index.RetrievalMode;
import io.d2search.ingest.CorpusDocument;
import io.d2search.schemas.Topics;
import io.d2search.teach.Bm25;
import io.d2search.teach.EnsembleConfig;
import io.d2search.teach.EnsembleTeacher;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distiller service on a real broker over a slice of SciFact (real abstracts, real judgements, the real
 * backbone, teacher and trainer): the serving index's vectors arrive on {@code embeddings}, judged train queries
 * arrive on {@code training-pairs} as the feedback join writes clicks, and a refresh trains an IEM, judges it on the
 * held-out feedback and either releases it (a verified bundle in the store, a HEADS release on
 * {@code model-releases}) or keeps it out, whichever the gate says; after a restart the service remembers its
 * refreshes, and a candidate trained with a learning rate that breaks it is refused.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class DistillerServiceIT {
  private static final int QUERIES = 100;
  private static final int OTHER_DOCS = 120;

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static ModelBundle base;
  private static Embedder embedder;
  private static int passages;

  @BeforeAll
  static void start() throws Exception {
    Path scifact = scifact();
    Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    BeirDataset data = BeirDataset.load(scifact, "train");
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(new NewTopic(Topics.EMBEDDINGS, 2, kafka.replicationFactor()).configs(Map.of("cleanup.policy", "compact")),
        new NewTopic(Topics.TRAINING_PAIRS, 2, kafka.replicationFactor()),
        new NewTopic(Topics.MODEL_RELEASES, 1, kafka.replicationFactor()).configs(Map.of("cleanup.policy", "compact")));
    base = ModelBundle.versionZero(dir.resolve("bundles"), BackboneSource.MINILM_L6_V2, 256);
    embedder = base.embedder(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));

    // The first QUERIES judged train queries (by id), their relevant abstracts and OTHER_DOCS others.
    Map<String, List<String>> judged = new TreeMap<>();
    data.qrels().forEach((q, j) -> {
      List<String> rel = j.entrySet().stream().filter(e -> e.getValue() > 0).map(Map.Entry::getKey).sorted()
          .toList();
      if (!rel.isEmpty() && data.queries().containsKey(q)) {
        judged.put(q, rel);
      }
    });
    Map<String, List<String>> chosen = new LinkedHashMap<>();
    judged.entrySet().stream().limit(QUERIES).forEach(e -> chosen.put(e.getKey(), e.getValue()));
    Map<String, CorpusDocument> docs = new LinkedHashMap<>();
    chosen.values().forEach(ids -> ids.forEach(id -> docs.put(id, data.corpus().get(id))));
    data.corpus().values().stream().filter(d -> !docs.containsKey(d.id())).limit(OTHER_DOCS)
        .forEach(d -> docs.put(d.id(), d));
    passages = docs.size();
    try (KafkaProducer<String, byte[]> producer = producer()) {
      for (CorpusDocument d : docs.values()) {
        String text = EmbedText.of(d.title(), d.text());
        List<Float> vector = new ArrayList<>();
        for (float x : embedder.embed(text)) {
          vector.add(x);
        }
        producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, d.id() + "#0", Topics.embeddingSerde().encode(
            PassageEmbedding.newBuilder().setDocId(d.id()).setN(0).setModelVersion(base.version()).setVector(vector)
                .setTextHash(TextHash.sha256(text)).setTitle(d.title()).setText(d.text()).setDocVersion(1)
                .build())));
      }
      // What the feedback join writes when users click the judged abstracts.
      for (Map.Entry<String, List<String>> q : chosen.entrySet()) {
        producer.send(new ProducerRecord<>(Topics.TRAINING_PAIRS, "s-" + q.getKey(), Topics.trainingExampleSerde()
            .encode(TrainingExample.newBuilder().setQueryId("s-" + q.getKey()).setQuery(data.queries()
                .get(q.getKey())).setPositives(q.getValue().stream().map(id -> id + "#0").toList())
                .setPositiveRanks(q.getValue().stream().map(id -> 1).toList()).setNegatives(List.of())
                .setSource(ExampleSource.CLICKS).setModelVersion(base.version()).setMode("hybrid")
                .setTs(Instant.now()).build())));
      }
      producer.flush();
    }
  }

  @AfterAll
  static void stop() {
    if (embedder != null) {
      embedder.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  @Test
  @Timeout(900)
  void aRefreshTrainsOnFeedbackAndReleasesOnlyWhatTheGatePasses() throws Exception {
    DistillerConfig config = config();
    RefreshReport first;
    // The first refresh starts by itself: every distiller.refresh.every-examples new examples (all of them here).
    try (DistillerService service = start(config(QUERIES))) {
      assertThat(service.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
      DistillerService.Status status = service.status();
      assertThat(status.passages()).isEqualTo(passages);
      assertThat(status.feedbackLists()).isEqualTo(QUERIES);
      assertThat(status.serving()).isEqualTo(base.version());

      long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (service.status().reports().isEmpty()) {
        assertThat(System.nanoTime()).as("a refresh started by itself and done").isLessThan(deadline);
        Thread.sleep(500);
      }
      first = service.status().reports().getFirst();
      assertThat(first.version()).isEqualTo("loop-1");
      assertThat(first.parent()).isEqualTo(base.version());
      assertThat(first.trainLists() + first.validationLists() + first.heldOutLists()).isEqualTo(QUERIES);
      assertThat(first.heldOutLists()).isGreaterThanOrEqualTo(config.gate().minQueries());
      assertThat(first.decision()).isIn(RefreshReport.Decision.RELEASED, RefreshReport.Decision.REJECTED);
      assertThat(first.metrics()).containsKeys("gate.ndcg.current", "gate.ndcg.candidate", "gate.ndcg.diff.low");
      boolean released = first.decision() == RefreshReport.Decision.RELEASED;
      // The gate's rule, from its own figures: on held-out feedback, and on the judged split's held-out queries.
      assertThat(first.metrics()).containsKeys("gate.judged.ndcg.current", "gate.judged.ndcg.candidate");
      assertThat(first.metrics().get("gate.judged.queries")).isGreaterThanOrEqualTo(config.gate().minQueries());
      assertThat(released).isEqualTo(passes(first.metrics(), "gate.", config.gate())
          && passes(first.metrics(), "gate.judged.", config.gate()));
      List<ModelRelease> releases = releases();
      if (released) {
        ModelBundle stored = ModelBundle.load(config.bundlesDir().resolve("loop-1"));
        assertThat(releases).singleElement().satisfies(r -> {
          assertThat(r.getVersion()).isEqualTo("loop-1");
          assertThat(r.getParentVersion()).isEqualTo(base.version());
          assertThat(r.getKind()).isEqualTo(ReleaseKind.HEADS);
          assertThat(r.getSha256()).isEqualTo(stored.checksum());
          assertThat(Path.of(java.net.URI.create(r.getBundleUri()))).isEqualTo(stored.directory().toAbsolutePath());
        });
        assertThat(stored.iem()).isPresent();
        assertThat(stored.trainingWindow().orElseThrow().source()).isEqualTo(Refresh.FEEDBACK);
        assertThat(service.status().serving()).isEqualTo("loop-1");
      } else {
        assertThat(releases).isEmpty();
        assertThat(config.bundlesDir().resolve("loop-1")).doesNotExist();
        assertThat(ModelBundle.load(config.stateDir().resolve("candidates").resolve("loop-1")).iem()).isPresent();
      }
    }

    // A restart remembers its refreshes; a learning rate far too high trains a candidate the gate refuses.
    try (DistillerService service = start(config.withLearningRate(0.1))) {
      assertThat(service.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
      assertThat(service.status().reports()).containsExactly(first);
      assertThat(service.status().newFeedback()).isZero();
      int before = releases().size();
      RefreshReport broken = service.refreshNow().get(600, TimeUnit.SECONDS);
      assertThat(broken.version()).isEqualTo("loop-2");
      assertThat(broken.decision()).as(broken.describe()).isEqualTo(RefreshReport.Decision.REJECTED);
      assertThat(releases()).hasSize(before);
      assertThat(config.bundlesDir().resolve("loop-2")).doesNotExist();
    }

    // The same refresh again (same parent, feedback and seed) trains the same weights, byte for byte, and the gate
    // says the same.
    if (first.decision() == RefreshReport.Decision.REJECTED) {
      try (DistillerService service = start(config)) {
        assertThat(service.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
        RefreshReport again = service.refreshNow().get(600, TimeUnit.SECONDS);
        assertThat(again.version()).isEqualTo("loop-3");
        assertThat(again.decision()).isEqualTo(first.decision());
        assertThat(again.metrics()).isEqualTo(first.metrics());
        Path candidates = config.stateDir().resolve("candidates");
        assertThat(ModelBundle.load(candidates.resolve("loop-3")).manifest().weights().sha256())
            .isEqualTo(ModelBundle.load(candidates.resolve("loop-1")).manifest().weights().sha256());
      }
    }

    // The release path itself, whatever the model's quality: a gate told to accept any candidate (margin -1).
    DistillerConfig accepting = config.withGate(new DistillerConfig.GateConfig(15, -1, 1, 10, 1));
    try (DistillerService service = start(accepting)) {
      assertThat(service.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
      String parent = service.status().serving();
      int before = releases().size();
      RefreshReport released = service.refreshNow().get(600, TimeUnit.SECONDS);
      assertThat(released.decision()).as(released.describe()).isEqualTo(RefreshReport.Decision.RELEASED);
      assertThat(released.parent()).isEqualTo(parent);
      ModelBundle stored = ModelBundle.load(config.bundlesDir().resolve(released.version()));
      List<ModelRelease> releases = releases();
      assertThat(releases).hasSize(before + 1);
      ModelRelease r = releases.get(releases.size() - 1);
      assertThat(r.getVersion()).isEqualTo(released.version());
      assertThat(r.getParentVersion()).isEqualTo(parent);
      assertThat(r.getKind()).isEqualTo(ReleaseKind.HEADS);
      assertThat(r.getSha256()).isEqualTo(stored.checksum());
      assertThat(r.getMetrics()).containsKeys("gate.ndcg.current", "gate.ndcg.candidate");
      assertThat(Path.of(java.net.URI.create(r.getBundleUri()))).isEqualTo(stored.directory().toAbsolutePath());
      assertThat(stored.passageVectorsId()).isEqualTo(base.passageVectorsId());
      assertThat(stored.trainingWindow().orElseThrow().source()).isEqualTo(Refresh.FEEDBACK);
      assertThat(stored.manifest().parent()).isEqualTo(parent);
      assertThat(service.status().serving()).isEqualTo(released.version());
      assertThat(config.stateDir().resolve("candidates").resolve(released.version())).doesNotExist();
    }

    // A FULL refresh trains the PMA head too, here with the backbone's top layer (distiller.tune-layers=1): judged
    // over an index of its own vectors, released FULL into its own embeddings topic with its own ONNX graph; the
    // replica then follows that topic (which no indexer fills here, so nothing trains on it). No validation slice:
    // early stopping then watches the training loss, so the heads surely move (on a validation slice this small they
    // may not, and an unchanged PMA is rightly released as HEADS).
    try (DistillerService service = start(accepting.withKind(ReleaseKind.FULL).withValidationFraction(0)
        .withTuning(new DistillerConfig.BackboneTuning(1, 12, 3e-5, true)))) {
      assertThat(service.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
      String parent = service.status().serving();
      RefreshReport full = service.refreshNow().get(600, TimeUnit.SECONDS);
      assertThat(full.decision()).as(full.describe()).isEqualTo(RefreshReport.Decision.RELEASED);
      assertThat(full.metrics()).containsKeys("gate.ndcg.current", "gate.ndcg.candidate");
      ModelBundle stored = ModelBundle.load(config.bundlesDir().resolve(full.version()));
      assertThat(stored.passageVectorsId()).isNotEqualTo(base.passageVectorsId());
      assertThat(stored.manifest().backbone().id()).isEqualTo(base.manifest().backbone().id() + "+tuned-top1");
      assertThat(stored.directory().resolve(ModelBundle.BACKBONE_FILE)).isRegularFile();
      List<ModelRelease> releases = releases();
      ModelRelease r = releases.get(releases.size() - 1);
      assertThat(r.getVersion()).isEqualTo(full.version());
      assertThat(r.getParentVersion()).isEqualTo(parent);
      assertThat(r.getKind()).isEqualTo(ReleaseKind.FULL);
      assertThat(r.getEmbeddingsTopic()).isEqualTo(Topics.embeddingsTopicOf(full.version()));
      assertThat(config.stateDir().resolve("gate-index").resolve(full.version())).doesNotExist();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!service.status().embeddingVersion().equals(full.version())) {
        assertThat(System.nanoTime()).as("the replica follows the FULL release's vectors").isLessThan(deadline);
        Thread.sleep(200);
      }
      RefreshReport next = service.refreshNow().get(60, TimeUnit.SECONDS);
      assertThat(next.decision()).as(next.describe()).isEqualTo(RefreshReport.Decision.SKIPPED);
      assertThat(next.parent()).isEqualTo(full.version());
    }
  }

  private static boolean passes(Map<String, Double> metrics, String prefix, DistillerConfig.GateConfig gate) {
    return metrics.get(prefix + "ndcg.diff.low") > gate.margin() && metrics.get(prefix + "recall.candidate")
        >= metrics.get(prefix + "recall.current") - gate.recallTolerance();
  }

  private static DistillerConfig config() {
    return config(1_000_000);
  }

  private static DistillerConfig config(int refreshEveryExamples) {
    // The judged gate reads SciFact's whole train split: its held-out queries whose abstracts are not in the slice
    // score 0 for both models, which makes it a weak gate here, but a real one.
    return new DistillerConfig(dir.resolve("distiller"), dir.resolve("bundles"), refreshEveryExamples,
        Duration.ofDays(1), 20,
        0.3, 0.15, 3, 2, 20, 2, 1e-3, 8, 0, LossConfig.d2llm(),
        new DistillerConfig.GateConfig(15, 0.0, 0.02, 10, 1),
        new DistillerConfig.JudgedGate(scifact(), "train"), 1, DistillerConfig.CanaryConfig.OFF,
        io.d2search.events.ReleaseKind.HEADS, null);
  }

  private static Path scifact() {
    return Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
  }

  private static DistillerService start(DistillerConfig config) {
    Map<String, Object> client = Map.of("bootstrap.servers", kafka.bootstrapServers());
    EnsembleConfig teacher = EnsembleConfig.defaults().withProvider(ExecutionProvider.CPU);
    return DistillerService.start(config, new RankingSetup(RetrievalMode.HYBRID, Fusion.DEFAULT, 100, 0.75), client,
        base, embedder, IndexConfig.defaults(), texts -> {
          EnsembleTeacher t = EnsembleTeacher.create(teacher, Bm25.statistics(texts),
              dir.resolve("teacher-vectors"));
          t.precompute(texts);
          return t;
        }, new SimpleMeterRegistry());
  }

  private static KafkaProducer<String, byte[]> producer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  private static List<ModelRelease> releases() {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    List<ModelRelease> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(Topics.MODEL_RELEASES, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      long end = consumer.endOffsets(List.of(tp)).get(tp);
      while (consumer.position(tp) < end) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          out.add(Topics.modelReleaseSerde().decode(r.value()));
        }
      }
    }
    return out;
  }
}
