package io.d2search.bench;

import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.embed.TextHash;
import io.d2search.index.PassageIndex;
import io.d2search.indexer.Indexer;
import io.d2search.ingest.Chunker;
import io.d2search.ingest.CorpusDocument;
import io.d2search.schemas.Topics;
import io.d2search.serve.QueryService;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A burst of new documents produced faster than the indexer embeds them: {@code documents} documents at a fixed
 * rate (the caller sets it, e.g. 10× the pipeline's measured rate), while a sampler records four times a second
 * the indexer's lag (records of {@code documents} and {@code passages} its applications have not committed), the
 * JVM's heap in use and its resident memory; then waits until every passage of the burst is searchable. What it
 * shows: memory stays bounded (the embed stage blocks its stream thread, so consumption slows instead of buffers
 * growing), lag grows while the burst lasts and drains after it.
 */
final class Burst {
  private static final Logger log = LoggerFactory.getLogger(Burst.class);
  private static final Duration SAMPLE_EVERY = Duration.ofMillis(250);

  /** One sample: seconds since the burst's first produce, lag in records, heap in use and resident bytes. */
  record Sample(double seconds, long documentsLag, long passagesLag, long heapUsed, long resident) {
    long lag() {
      return documentsLag + passagesLag;
    }
  }

  /**
   * What a burst did.
   *
   * @param documents documents produced
   * @param passages their passages (the indexer's chunker over each body)
   * @param produceSeconds first produce to the last produce acknowledged
   * @param drainSeconds first produce until every passage was searchable
   * @param samples the sampler's readings, in time order
   * @param heapMax the JVM's -Xmx (max heap), bytes
   */
  record Result(int documents, int passages, double produceSeconds, double drainSeconds, List<Sample> samples,
      long heapMax) {
    Sample peakLag() {
      return Burst.peakLag(samples);
    }

    long peakHeap() {
      return samples.stream().mapToLong(Sample::heapUsed).max().orElse(-1);
    }

    long peakResident() {
      return samples.stream().mapToLong(Sample::resident).max().orElse(-1);
    }

    Sample first() {
      return samples.get(0);
    }
  }

  /** The sample with the most lag (the first of equals). */
  static Sample peakLag(List<Sample> samples) {
    return samples.stream().max((a, b) -> Long.compare(a.lag(), b.lag())).orElseThrow();
  }

  private final KafkaProducer<String, byte[]> producer;
  private final QueryService service;
  private final Indexer indexer;
  private final Chunker chunker;

  Burst(KafkaProducer<String, byte[]> producer, QueryService service, Indexer indexer, Chunker chunker) {
    this.producer = producer;
    this.service = service;
    this.indexer = indexer;
    this.chunker = chunker;
  }

  /**
   * Produces {@code count} new documents (bodies of {@code corpus}, cycled, under new ids) at {@code docsPerSecond},
   * then waits until all their passages are searchable.
   *
   * @throws IllegalStateException if indexing makes no progress for {@link PipelineBench#STALL}
   */
  Result run(List<CorpusDocument> corpus, int count, double docsPerSecond) throws InterruptedException {
    String run = Long.toString(System.nanoTime(), 36);
    long version = System.currentTimeMillis();
    Map<String, String> expected = new LinkedHashMap<>();
    List<DocumentEvent> events = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      CorpusDocument d = corpus.get(i % corpus.size());
      String id = "bench-burst-" + run + "-" + i;
      PipelineBench.passageTexts(id, d.title(), d.text(), chunker)
          .forEach((pid, text) -> expected.put(pid, TextHash.sha256(text)));
      events.add(DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle(d.title()).setBody(d.text())
          .setUrl(null).setVersion(version).setTs(Instant.now()).setAttributes(Map.of()).build());
    }
    List<Sample> samples = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> sendFailure = new AtomicReference<>();
    long start = System.nanoTime();
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-burst-sampler");
      t.setDaemon(true);
      return t;
    });
    sampler.scheduleAtFixedRate(() -> samples.add(sample(start)), 0, SAMPLE_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    try {
      log.info("burst: {} documents ({} passages) at {} documents/s", count, expected.size(),
          String.format(java.util.Locale.ROOT, "%.1f", docsPerSecond));
      long intervalNanos = (long) (1e9 / docsPerSecond);
      for (int i = 0; i < count; i++) {
        long due = start + i * intervalNanos;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        DocumentEvent e = events.get(i);
        producer.send(new ProducerRecord<>(Topics.DOCUMENTS, e.getId(), Topics.documentSerde().encode(e)),
            (metadata, failure) -> {
              if (failure != null) {
                sendFailure.compareAndSet(null, failure);
              }
            });
      }
      producer.flush();
      if (sendFailure.get() != null) {
        throw new IllegalStateException("the burst's produce failed: " + sendFailure.get(), sendFailure.get());
      }
      long produced = System.nanoTime();
      long drained = awaitSearchable(expected);
      samples.add(sample(start));
      return new Result(count, expected.size(), (produced - start) / 1e9, (drained - start) / 1e9,
          List.copyOf(samples), Runtime.getRuntime().maxMemory());
    } finally {
      sampler.shutdownNow();
    }
  }

  private long awaitSearchable(Map<String, String> expected) throws InterruptedException {
    PassageIndex index = service.index();
    List<Map.Entry<String, String>> pending = new ArrayList<>(expected.entrySet());
    long lastProgress = System.nanoTime();
    while (true) {
      PipelineBench.checkAlive(service, indexer);
      int before = pending.size();
      pending.removeIf(e -> PipelineBench.present(index, e.getKey(), e.getValue()));
      long now = System.nanoTime();
      if (pending.isEmpty()) {
        return now;
      }
      if (pending.size() < before) {
        lastProgress = now;
      } else if (now - lastProgress > PipelineBench.STALL.toNanos()) {
        throw new IllegalStateException(String.format(java.util.Locale.ROOT, "the burst stalled: %d of %d "
            + "passages still not searchable after %d s without progress", pending.size(), expected.size(),
            PipelineBench.STALL.toSeconds()));
      }
      Thread.sleep(50);
    }
  }

  private Sample sample(long start) {
    Map<String, Long> lag = indexer.health(Long.MAX_VALUE).lag();
    return new Sample((System.nanoTime() - start) / 1e9, lag.getOrDefault(Topics.DOCUMENTS, -1L),
        lag.getOrDefault(Topics.PASSAGES, -1L), ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(),
        resident());
  }

  /** This process's resident memory (VmRSS), bytes; -1 where /proc is not there. */
  static long resident() {
    return ServiceProcess.statusBytes(ProcessHandle.current().pid(), "VmRSS");
  }
}
