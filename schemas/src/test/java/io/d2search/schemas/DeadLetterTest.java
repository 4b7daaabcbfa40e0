package io.d2search.schemas;

import io.d2search.testkit.Randomized;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.internal.AbstractRecords;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.junit.jupiter.api.Test;

/** Dead letters always fit, keep our headers whole, and cut only what they must, saying what. */
class DeadLetterTest {

  private static byte[] random(Random random, int length) {
    byte[] b = new byte[length];
    random.nextBytes(b);
    return b;
  }

  private static DeadLetter.Reason reason(Random random) {
    return new DeadLetter.Reason(random.nextBoolean() ? "validate" : "decode",
        "x".repeat(random.nextInt(2_000)), Topics.DOCUMENTS, random.nextInt(12), random.nextLong(1L << 40));
  }

  @Test
  void ourBoundIsNeverBelowKafkasOwnEstimate() {
    Random random = new Random(Randomized.seed("ourBoundIsNeverBelowKafkasOwnEstimate"));
    for (int round = 0; round < Randomized.atLeast(random, 200); round++) {
      byte[] key = random.nextInt(5) == 0 ? null : random(random, random.nextInt(3_000));
      byte[] value = random.nextInt(5) == 0 ? null : random(random, random.nextInt(300_000));
      RecordHeaders h = new RecordHeaders();
      for (int i = random.nextInt(6); i > 0; i--) {
        h.add("h" + random.nextInt(1_000_000), random.nextInt(4) == 0 ? null : random(random, random.nextInt(500)));
      }
      Header[] headers = h.toArray();
      int kafka = AbstractRecords.estimateSizeInBytesUpperBound(RecordBatch.CURRENT_MAGIC_VALUE,
          CompressionType.NONE, key, value, headers);
      assertThat(DeadLetter.serializedSizeUpperBound(key, value, headers)).isGreaterThanOrEqualTo(kafka);
    }
  }

  @Test
  void aDeadLetterAlwaysFitsAndSaysWhatWasCut() {
    Random random = new Random(Randomized.seed("aDeadLetterAlwaysFitsAndSaysWhatWasCut"));
    for (int round = 0; round < Randomized.atLeast(random, 200); round++) {
      int max = 4_000 + random.nextInt(200_000);
      byte[] key = random.nextInt(6) == 0 ? null : random(random, random.nextInt(random.nextBoolean() ? 100 : max));
      byte[] value = random.nextInt(6) == 0 ? null : random(random, random.nextInt(2 * max));
      Headers source = new RecordHeaders();
      for (int i = random.nextInt(4); i > 0; i--) {
        source.add("trace-" + i, random(random, random.nextInt(random.nextBoolean() ? 50 : max / 2)));
      }
      if (random.nextInt(5) == 0) {
        source.add(Topics.HEADER_TRUNCATED, "forged".getBytes(StandardCharsets.UTF_8));
      }
      DeadLetter.Reason reason = reason(random);

      DeadLetter letter = DeadLetter.of(key, value, source, reason, max);

      assertThat(letter.serializedSizeUpperBound()).isLessThanOrEqualTo(max);
      assertThat(letter.headers().lastHeader(Topics.HEADER_STAGE).value())
          .isEqualTo(reason.stage().getBytes(StandardCharsets.UTF_8));
      assertThat(letter.error()).isEqualTo(reason.error());
      assertThat(letter.error().length()).isLessThanOrEqualTo(DeadLetter.MAX_ERROR_CHARS + 3);
      assertThat(letter.headers().lastHeader(Topics.HEADER_SOURCE_OFFSET).value())
          .isEqualTo(Long.toString(reason.offset()).getBytes(StandardCharsets.UTF_8));
      assertThat(isPrefix(letter.value(), value)).as("value kept as a prefix").isTrue();
      assertThat(isPrefix(letter.key(), key)).as("key kept as a prefix").isTrue();
      boolean cut = !Arrays.equals(key, letter.key()) || !Arrays.equals(value, letter.value())
          || letter.headers().lastHeader("trace-1") == null && source.lastHeader("trace-1") != null;
      assertThat(letter.truncation().isPresent()).as("truncation header iff something was cut").isEqualTo(cut);
      if (value != null && letter.value().length < value.length) {
        assertThat(letter.truncation().orElseThrow())
            .contains("value " + value.length + " bytes, kept " + letter.value().length);
      }
    }
  }

  private static boolean isPrefix(byte[] prefix, byte[] of) {
    if (of == null || prefix == null) {
      return of == prefix;
    }
    return prefix.length <= of.length && Arrays.equals(prefix, Arrays.copyOf(of, prefix.length));
  }

  @Test
  void aRecordThatFitsIsCopiedWhole() {
    byte[] value = "{\"id\": 1}".getBytes(StandardCharsets.UTF_8);
    Headers source = new RecordHeaders().add("trace-id", "abc".getBytes(StandardCharsets.UTF_8));
    DeadLetter letter = DeadLetter.of("k".getBytes(StandardCharsets.UTF_8), value, source,
        new DeadLetter.Reason("decode", "not avro", Topics.DOCUMENTS, 0, 7), 1024 * 1024);
    assertThat(letter.value()).isEqualTo(value);
    assertThat(letter.headers().lastHeader("trace-id").value()).isEqualTo("abc".getBytes(StandardCharsets.UTF_8));
    assertThat(letter.truncation()).isEmpty();
    assertThat(source.toArray()).hasSize(1);
  }

  @Test
  void aLimitTooSmallForOurOwnHeadersIsRefused() {
    assertThatThrownBy(() -> DeadLetter.of(null, new byte[10], new RecordHeaders(),
        new DeadLetter.Reason("decode", "x".repeat(900), Topics.DOCUMENTS, 0, 0), 500))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("500 bytes");
  }
}
