package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.testing.Seeds;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

  static Map<String, Tensor> randomTensors(Random random) {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("z.last", Tensor.of(Seeds.gaussian(random, 6, 1), 2, 3));
    tensors.put("a.first", Tensor.of(Seeds.gaussian(random, 4, 1), 4));
    tensors.put("m.scalar", Tensor.of(new float[] {(float) random.nextGaussian()}));
    tensors.put("m.empty", Tensor.of(new float[0], 0, 3));
    tensors.put("m.special", Tensor.of(new float[] {Float.NaN, Float.POSITIVE_INFINITY, -0f, Float.MIN_VALUE}, 1, 4));
    tensors.put("b.big", Tensor.of(Seeds.gaussian(random, 384 * 7, 1), 7, 384));
    return tensors;
  }

  @Test
  void roundTripsTensorsAndMetadata() {
    Random random = Seeds.random("roundTripsTensorsAndMetadata");
    Map<String, Tensor> tensors = randomTensors(random);
    Safetensors.Contents back = Safetensors.decode(Safetensors.encode(tensors, Map.of("format", "pt", "k", "v")));
    assertThat(back.tensors()).containsExactlyInAnyOrderEntriesOf(tensors);
    assertThat(List.copyOf(back.tensors().keySet())).isSorted();
    assertThat(back.metadata()).containsExactlyInAnyOrderEntriesOf(Map.of("format", "pt", "k", "v"));
    float[] special = back.tensors().get("m.special").data();
    assertThat(Float.floatToRawIntBits(special[2])).isEqualTo(Float.floatToRawIntBits(-0f));
  }

  @Test
  void writesTheSameBytesWhateverTheMapOrder() {
    Random random = Seeds.random("writesTheSameBytesWhateverTheMapOrder");
    Map<String, Tensor> tensors = randomTensors(random);
    byte[] a = Safetensors.encode(tensors, Map.of("b", "2", "a", "1"));
    Map<String, String> reversedMeta = new LinkedHashMap<>();
    reversedMeta.put("a", "1");
    reversedMeta.put("b", "2");
    byte[] b = Safetensors.encode(new TreeMap<>(tensors).descendingMap(), reversedMeta);
    assertThat(a).isEqualTo(b);
  }

  @Test
  void layoutIsTheSafetensorsFormat() {
    byte[] bytes = Safetensors.encode(
        Map.of("b", Tensor.of(new float[] {1, 2}, 2), "a", Tensor.of(new float[] {-1}, 1, 1)), Map.of("format", "pt"));
    ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long n = buffer.getLong();
    assertThat(n % 8).isZero();
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertThat(header.stripTrailing()).isEqualTo("{\"__metadata__\":{\"format\":\"pt\"},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}");
    assertThat(header.substring(header.stripTrailing().length())).matches(" *");
    buffer.position(8 + (int) n);
    assertThat(buffer.getFloat()).isEqualTo(-1f);
    assertThat(buffer.getFloat()).isEqualTo(1f);
    assertThat(buffer.getFloat()).isEqualTo(2f);
    assertThat(buffer.hasRemaining()).isFalse();
  }

  /** reference.safetensors was written by HuggingFace's safetensors (see make_reference.py beside it). */
  @Test
  void matchesTheReferenceWriterByteForByte() throws Exception {
    byte[] reference;
    try (var in = SafetensorsTest.class.getResourceAsStream("/safetensors/reference.safetensors")) {
      reference = in.readAllBytes();
    }
    Map<String, Tensor> tensors = Map.of(
        "w", Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 2, 3),
        "b", Tensor.of(new float[] {1.5f}, 1),
        "pma.seed", Tensor.of(new float[] {-0.25f, 0.5f, 1e-8f, -3.0e38f}, 1, 4));
    assertThat(Safetensors.decode(reference).tensors()).containsExactlyInAnyOrderEntriesOf(tensors);
    assertThat(Safetensors.decode(reference).metadata()).containsExactlyEntriesOf(Map.of("format", "pt"));
    assertThat(Safetensors.encode(tensors, Map.of("format", "pt"))).isEqualTo(reference);
  }

  /** A file as other writers make it: metadata not first, unpadded header, data not in name order. */
  @Test
  void readsAForeignLayout() {
    String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
        + "\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + 12).order(ByteOrder.LITTLE_ENDIAN);
    buffer.putLong(json.length).put(json).putFloat(7).putFloat(8).putFloat(9);
    Safetensors.Contents contents = Safetensors.decode(buffer.array());
    assertThat(contents.tensors().get("a")).isEqualTo(Tensor.of(new float[] {7}));
    assertThat(contents.tensors().get("w")).isEqualTo(Tensor.of(new float[] {8, 9}, 2));
  }

  @Test
  void refusesEveryTruncation() {
    byte[] bytes = Safetensors.encode(randomTensors(new Random(1)), Map.of());
    for (int length = 0; length < bytes.length; length += 1 + length / 16) {
      byte[] cut = Arrays.copyOf(bytes, length);
      assertThatThrownBy(() -> Safetensors.decode(cut)).as("truncated to %d bytes", length)
          .isInstanceOf(BundleException.class);
    }
    byte[] lastByteMissing = Arrays.copyOf(bytes, bytes.length - 1);
    assertThatThrownBy(() -> Safetensors.decode(lastByteMissing)).isInstanceOf(BundleException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void refusesGarbage() {
    Random random = Seeds.random("refusesGarbage");
    for (int i = 0; i < 200; i++) {
      byte[] garbage = new byte[random.nextInt(300)];
      random.nextBytes(garbage);
      assertThatThrownBy(() -> Safetensors.decode(garbage)).isInstanceOf(BundleException.class);
    }
    byte[] text = "{\"not\": \"safetensors\"}".getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> Safetensors.decode(text)).isInstanceOf(BundleException.class);
  }

  @Test
  void refusesMalformedHeaders() {
    assertRefused("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "only F32");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlapping");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "not valid JSON");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "invalid shape");
    assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON");
    assertRefused("{\"a\":[1, 2]}", 0, "not a JSON object");
  }

  private static void assertRefused(String header, int dataBytes, String message) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    buffer.putLong(json.length).put(json);
    assertThatThrownBy(() -> Safetensors.decode(buffer.array())).as(header)
        .isInstanceOf(BundleException.class).hasMessageContaining(message);
  }

  @Test
  void readsAndWritesFiles(@TempDir Path dir) throws Exception {
    Map<String, Tensor> tensors = randomTensors(new Random(3));
    Path file = dir.resolve("x.safetensors");
    Safetensors.write(file, tensors, Map.of());
    assertThat(Safetensors.read(file).tensors()).containsExactlyInAnyOrderEntriesOf(tensors);
    Files.write(file, new byte[] {1, 2, 3});
    assertThatThrownBy(() -> Safetensors.read(file)).isInstanceOf(BundleException.class)
        .hasMessageContaining(file.toString());
  }

  @Test
  void tensorsAreImmutableValues() {
    float[] data = {1, 2, 3, 4};
    Tensor t = Tensor.of(data, 2, 2);
    data[0] = 9;
    t.data()[1] = 9;
    t.shape()[0] = 9;
    assertThat(t).isEqualTo(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)).isNotEqualTo(Tensor.of(data, 4));
    assertThatThrownBy(() -> Tensor.of(new float[3], 2, 2)).isInstanceOf(IllegalArgumentException.class);
  }
}
