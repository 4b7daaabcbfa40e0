package io.d2search.indexer;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.errors.internals.DefaultErrorHandlerContext;
import org.apache.kafka.streams.processor.TaskId;
import org.junit.jupiter.api.Test;

/**
 * Only records no broker will take are dropped (and counted); every other failure keeps Kafka's default answer.
 * Under exactly-once a refused send still aborts the transaction, which is why the indexer sizes dead letters to
 * the topic's limit before sending (see {@code IndexerIT}); this handler serves at-least-once overrides.
 */
class UnproducibleRecordHandlerTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final UnproducibleRecordHandler handler = new UnproducibleRecordHandler();
  private final ProducerRecord<byte[], byte[]> record = new ProducerRecord<>("documents.dlq", new byte[3]);
  private final DefaultErrorHandlerContext context = new DefaultErrorHandlerContext(null, "documents", 1, 42,
      new RecordHeaders(), "chunker", new TaskId(0, 1), 0L, null, null);

  UnproducibleRecordHandlerTest() {
    handler.configure(Map.of(UnproducibleRecordHandler.REGISTRY_CONFIG, registry));
  }

  @Test
  void aRecordTooLargeIsDroppedAndCounted() {
    ProductionExceptionHandler.Response response =
        handler.handleError(context, record, new RecordTooLargeException("too large"));
    assertThat(response.result()).isEqualTo(ProductionExceptionHandler.Result.RESUME);
    assertThat(registry.get("d2search.indexer.records.unproducible").tag("topic", "documents.dlq").counter().count())
        .isEqualTo(1);
  }

  @Test
  void otherFailuresKeepTheDefaultAnswer() {
    assertThat(handler.handleError(context, record, new TimeoutException("slow")).result())
        .isEqualTo(ProductionExceptionHandler.Result.RETRY);
    assertThat(handler.handleError(context, record, new TopicAuthorizationException("no")).result())
        .isEqualTo(ProductionExceptionHandler.Result.FAIL);
    assertThat(registry.find("d2search.indexer.records.unproducible").counter()).isNull();
  }
}
