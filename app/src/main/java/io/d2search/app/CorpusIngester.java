package io.d2search.app;

import io.d2search.ingest.CorpusFile;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.schemas.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produces {@link DocumentEvent}s to {@code documents}: a JSONL corpus (BEIR {@code {_id,title,text}} or
 * {@code {id,title,body,url}}) as UPSERTs, or deletions by id. One idempotent producer with {@code acks=all};
 * every event of one run carries the same version (the run's start time), so a later run supersedes it.
 */
public final class CorpusIngester implements AutoCloseable {
  private final Producer<String, byte[]> producer;
  private final long version = System.currentTimeMillis();

  public CorpusIngester(String bootstrapServers) {
    this(bootstrapServers, Map.of());
  }

  /** @param clientProperties extra Kafka client properties (security), applied first */
  public CorpusIngester(String bootstrapServers, Map<String, String> clientProperties) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "10");
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "d2search-ingest");
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  /** Sends every document of the file; returns how many. @throws UncheckedIOException if a send failed */
  public long ingest(Path corpus) {
    long lines = countLines(corpus);
    AtomicReference<Exception> failure = new AtomicReference<>();
    long[] sent = {0};
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName("ingest " + corpus.getFileName())
        .setInitialMax(lines).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).setUnit(" docs", 1)
        .build()) {
      CorpusFile.forEachDocument(corpus, d -> {
        DocumentEvent event = DocumentEvent.newBuilder().setId(d.id()).setOp(DocumentOp.UPSERT)
            .setTitle(d.title().isEmpty() ? null : d.title()).setBody(d.text()).setUrl(d.url())
            .setVersion(version).setTs(Instant.now()).setAttributes(d.attributes()).build();
        send(event, failure, bar);
        sent[0]++;
      });
      producer.flush();
    }
    rethrow(failure);
    return sent[0];
  }

  /** Sends a DELETE for each id. */
  void delete(Iterable<String> ids) {
    AtomicReference<Exception> failure = new AtomicReference<>();
    for (String id : ids) {
      send(DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.DELETE).setVersion(version).setTs(Instant.now())
          .setAttributes(Map.of()).build(), failure, null);
    }
    producer.flush();
    rethrow(failure);
  }

  private void send(DocumentEvent event, AtomicReference<Exception> failure, ProgressBar bar) {
    producer.send(new ProducerRecord<>(Topics.DOCUMENTS, event.getId(), Topics.documentSerde().encode(event)),
        (meta, e) -> {
          if (e != null) {
            failure.compareAndSet(null, e);
          } else if (bar != null) {
            bar.step();
          }
        });
  }

  private static void rethrow(AtomicReference<Exception> failure) {
    if (failure.get() != null) {
      throw new UncheckedIOException(new IOException("sending to " + Topics.DOCUMENTS + " failed: "
          + failure.get().getMessage(), failure.get()));
    }
  }

  private static long countLines(Path file) {
    try (var lines = Files.lines(file)) {
      return lines.filter(l -> !l.isBlank()).count();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read corpus " + file, e);
    }
  }

  @Override
  public void close() {
    producer.close();
  }

  /** Blocks until the broker answers or throws a clear error (so a wrong address fails fast). */
  static void checkReachable(String bootstrapServers, Map<String, String> clientProperties) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("bootstrap.servers", bootstrapServers);
    p.put("request.timeout.ms", "5000");
    p.put("default.api.timeout.ms", "10000");
    try (var admin = org.apache.kafka.clients.admin.Admin.create(p)) {
      admin.describeCluster().clusterId().get();
    } catch (ExecutionException e) {
      throw new IllegalArgumentException("Kafka at " + bootstrapServers + " is not reachable: "
          + e.getCause().getMessage() + " (start one with `./d2search demo`, or set kafka.bootstrap.servers)");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
