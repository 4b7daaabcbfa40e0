package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.TextHash;
import io.d2search.events.Negative;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.TrainingExample;
import io.d2search.feedback.FeedbackConfig;
import io.d2search.feedback.FeedbackJob;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import io.d2search.serve.QueryServiceConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop's first step end to end on a real broker: the query service serves searches and writes impressions,
 * simulated users click what the qrels judge relevant over HTTP, and the feedback join turns that into training
 * examples whose positives are the judged documents and whose negatives are what was shown above them.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class FeedbackLoopIT {
  private static final String[][] DOCS = {
      {"cats", "Cats", "The domestic cat is a small carnivorous mammal often kept as a pet."},
      {"stocks", "Markets", "The stock market fell sharply as investors sold technology shares."},
      {"bread", "Baking", "Bread is made from flour, water, salt and yeast, then baked in an oven."},
      {"volcano", "Volcanoes", "A volcano erupts when molten rock rises through the earth's crust."},
      {"chess", "Chess", "Chess is a board game for two players who move sixteen pieces each."}};

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static Embedder embedder;

  @BeforeAll
  static void start() {
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(new NewTopic(Topics.EMBEDDINGS, 2, kafka.replicationFactor()), new NewTopic(Topics.IMPRESSIONS, 2, kafka.replicationFactor()),
        new NewTopic(Topics.CLICKS, 2, kafka.replicationFactor()));
    FeedbackJob.createTopicsIfMissing(Map.of("bootstrap.servers", kafka.bootstrapServers()), 2, kafka.replicationFactor(),
        Duration.ofSeconds(30));
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
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
  void clicksOfSimulatedUsersBecomeTrainingExamplesOfTheJudgedDocuments() throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
        new ByteArraySerializer())) {
      for (String[] d : DOCS) {
        String text = EmbedText.of(d[1], d[2]);
        List<Float> vector = new ArrayList<>();
        for (float x : embedder.embed(text)) {
          vector.add(x);
        }
        producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, d[0] + "#0", Topics.embeddingSerde().encode(
            PassageEmbedding.newBuilder().setDocId(d[0]).setN(0).setModelVersion(embedder.info().version())
                .setVector(vector).setTextHash(TextHash.sha256(text)).setTitle(d[1]).setText(d[2]).setDocVersion(1)
                .build()))).get();
      }
    }
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrapServers(), dir.resolve("index"))
        .withHttp("127.0.0.1", 0);
    FeedbackConfig feedback = FeedbackConfig.DEFAULTS.withWindow(Duration.ofSeconds(5), Duration.ofSeconds(2))
        .withMinDwellMs(0);
    try (QueryService service = QueryService.start(config, embedder, registry);
        FeedbackJob join = new FeedbackJob(kafka.bootstrapServers(), dir.resolve("state"), "loop-it-feedback",
            feedback, Map.of(), registry)) {
      assertThat(service.materializer().awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
      join.start();
      Map<String, String> queries = new LinkedHashMap<>();
      queries.put("q-cat", "a pet kitten");
      queries.put("q-bread", "how to bake bread with yeast");
      queries.put("q-lava", "molten rock erupting");
      Map<String, Map<String, Integer>> qrels = Map.of("q-cat", Map.of("cats", 1), "q-bread", Map.of("bread", 1),
          "q-lava", Map.of("volcano", 1));
      // Users who read every result and click exactly the relevant ones.
      ClickSimulator.Report report = new ClickSimulator(URI.create("http://127.0.0.1:" + service.port()))
          .run(new ClickSimulator.Plan(queries, qrels, 5, 0, 1, 0, 20, 7, null), n -> { });
      assertThat(report.searches()).isEqualTo(3);
      assertThat(report.clicks()).isEqualTo(3).isEqualTo(report.relevantClicks());

      Map<String, TrainingExample> examples = readExamples(3, Duration.ofSeconds(90));
      assertThat(examples).hasSize(3);
      Map<String, String> relevant = Map.of("a pet kitten", "cats#0", "how to bake bread with yeast", "bread#0",
          "molten rock erupting", "volcano#0");
      for (TrainingExample e : examples.values()) {
        assertThat(e.getPositives()).containsExactly(relevant.get(e.getQuery()));
        assertThat(e.getNegatives()).hasSize(e.getPositiveRanks().get(0) - 1)
            .extracting(Negative::getPassageId).doesNotContain(relevant.get(e.getQuery()));
        assertThat(e.getModelVersion()).isEqualTo(embedder.info().version());
        assertThat(e.getMode()).isEqualTo("hybrid");
      }
      assertThat(registry.get("d2search.feedback.examples").counter().count()).isEqualTo(3);
    }
  }

  private static Map<String, TrainingExample> readExamples(int expected, Duration timeout) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "loop-it-reader");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    Map<String, TrainingExample> out = new HashMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(Topics.TRAINING_PAIRS));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline && out.size() < expected) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          assertThat(out.put(r.key(), Topics.trainingExampleSerde().decode(r.value()))).as("once").isNull();
        }
      }
    }
    return out;
  }
}
