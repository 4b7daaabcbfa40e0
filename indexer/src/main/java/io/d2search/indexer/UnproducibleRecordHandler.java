package io.d2search.indexer;

import io.d2search.schemas.DeadLetter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.streams.errors.DefaultProductionExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The indexer's production exception handler: a record that no broker will ever take (too large for
 * {@code max.request.size} or the topic's {@code max.message.bytes}) is dropped with a log line and a count, and
 * processing goes on. Failing instead would replay the same input record into the same failure on every restart
 * of the task: one record would stop its partition for good. Every other error is the default handler's (retry
 * the retriable ones, fail on the rest: authorisation, a missing topic), since dropping those would lose data
 * that a fixed cluster could still take.
 *
 * <p>The indexer sizes its dead letters to fit ({@link DeadLetter}), so this handler is the second line: it is
 * reached when a broker's or topic's limit is lower than the producer's.
 *
 * <p>Meter: {@code d2search.indexer.records.unproducible} (counter, tag {@code topic}), registered in the
 * registry given under {@link #REGISTRY_CONFIG}, else Micrometer's global one.
 */
public final class UnproducibleRecordHandler implements ProductionExceptionHandler {
  /** Streams config key whose value is the {@link MeterRegistry} to count in (set by the {@link Indexer}). */
  public static final String REGISTRY_CONFIG = "d2search.meter.registry";
  private static final Logger log = LoggerFactory.getLogger(UnproducibleRecordHandler.class);

  private final DefaultProductionExceptionHandler fallback = new DefaultProductionExceptionHandler();
  private MeterRegistry registry = Metrics.globalRegistry;

  @Override
  public void configure(Map<String, ?> configs) {
    if (configs.get(REGISTRY_CONFIG) instanceof MeterRegistry r) {
      registry = r;
    }
    fallback.configure(configs);
  }

  @Override
  public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record, Exception e) {
    if (!(e instanceof RecordTooLargeException)) {
      return fallback.handleError(context, record, e);
    }
    Counter.builder("d2search.indexer.records.unproducible").tag("topic", record.topic())
        .description("Output records dropped because no broker would take them (too large)")
        .register(registry).increment();
    log.error("Dropped a record for {} that no broker will take ({}), written for input {}-{}@{}: {}",
        record.topic(), e.getClass().getSimpleName(), context.topic(), context.partition(), context.offset(),
        e.getMessage());
    return Response.resume();
  }
}
