package io.d2search.serve;

import io.d2search.embed.Embedder;
import io.d2search.events.PassageEmbedding;
import io.d2search.schemas.Topics;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@link HttpApiTest#CORPUS}, embedded and produced to {@code embeddings} on a real broker, for the ITs. */
final class TestCorpus {
  private TestCorpus() {}

  /** Produces every document's one passage, with the attributes {@code attributes} gives its document id. */
  static void produce(String bootstrapServers, Embedder embedder,
      Function<String, Map<String, String>> attributes) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
        new ByteArraySerializer())) {
      for (String[] doc : HttpApiTest.CORPUS) {
        PassageEmbedding e = HttpApiTest.embedding(embedder, doc[0], 0, doc[1], doc[2]);
        e.setAttributes(attributes.apply(doc[0]));
        producer.send(new ProducerRecord<>(Topics.EMBEDDINGS, doc[0] + "#0", Topics.embeddingSerde().encode(e))).get();
      }
    }
  }
}
