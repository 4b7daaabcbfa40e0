package io.d2search.teach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.d2search.embed.ExecutionProvider;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cross-encoder teacher against a tiny real ONNX network ({@link TinyCrossEncoderGenerator}) whose output is
 * computed here by hand, with MiniLM's real WordPiece tokenizer.
 */
class OnnxCrossEncoderTeacherTest {
  static final String QUERY = "Does vitamin D reduce the risk of fractures?";
  static final List<String> PASSAGES = List.of(
      "Vitamin D supplementation reduced hip fractures in elderly women.",
      "The stock market closed higher on Friday.",
      "A short one.");

  @TempDir static Path dir;
  static Path model;
  static Path tokenizer;

  @BeforeAll
  static void files() throws Exception {
    model = dir.resolve("tiny.onnx");
    tokenizer = dir.resolve("tokenizer.json");
    try (InputStream in = resource(TinyCrossEncoderGenerator.RESOURCE)) {
      Files.write(model, in.readAllBytes());
    }
    try (InputStream in = resource("all-minilm-l6-v2-tokenizer.json")) {
      Files.write(tokenizer, in.readAllBytes());
    }
  }

  private static InputStream resource(String name) {
    InputStream in = OnnxCrossEncoderTeacherTest.class.getClassLoader().getResourceAsStream(name);
    assertThat(in).as(name).isNotNull();
    return in;
  }

  private static CrossEncoderConfig config() {
    return CrossEncoderConfig.of("tiny", model, tokenizer).withProvider(ExecutionProvider.CPU);
  }

  @Test
  void checkedInModelIsWhatTheGeneratorWrites() throws Exception {
    assertThat(Files.readAllBytes(model)).isEqualTo(TinyCrossEncoderGenerator.model(2, "logits"));
    assertThat(Files.size(model)).isLessThan(8_000);
  }

  @Test
  void scoresEqualTheNetworkComputedByHand() throws Exception {
    // Batches of 2 over 3 passages of different lengths: padding must not change a score.
    try (OnnxCrossEncoderTeacher teacher = OnnxCrossEncoderTeacher.create(config().withBatchSize(2))) {
      double[] scores = teacher.score(QUERY, PASSAGES);
      assertThat(scores).hasSize(3);
      for (int i = 0; i < PASSAGES.size(); i++) {
        double[] logits = byHand(QUERY, PASSAGES.get(i), 2);
        double expected = Math.exp(logits[1]) / (Math.exp(logits[0]) + Math.exp(logits[1]));
        assertThat(scores[i]).as("passage %d", i).isCloseTo(expected, within(1e-5));
      }
      assertThat(scores[0]).isNotEqualTo(scores[1]);
      assertThat(teacher.score(QUERY, List.of())).isEmpty();
      assertThat(teacher.score(QUERY, List.of(PASSAGES.get(2)))[0]).isCloseTo(scores[2], within(1e-6));
    }
  }

  @Test
  void positiveIndexAndTemperatureApplyToTheSoftmax() throws Exception {
    double[] logits = byHand(QUERY, PASSAGES.get(0), 2);
    try (OnnxCrossEncoderTeacher first = OnnxCrossEncoderTeacher.create(config().withPositiveIndex(0)
        .withTemperature(2.0))) {
      double expected = 1 / (1 + Math.exp((logits[1] - logits[0]) / 2.0));
      assertThat(first.score(QUERY, PASSAGES.subList(0, 1))[0]).isCloseTo(expected, within(1e-5));
      assertThat(first.id()).contains("pos=0").contains("T=2.0").startsWith("onnx-ce:tiny:sha256-");
    }
  }

  @Test
  void singleLogitIsASigmoid() throws Exception {
    Path one = dir.resolve("tiny-c1.onnx");
    Files.write(one, TinyCrossEncoderGenerator.model(1, "logits"));
    try (OnnxCrossEncoderTeacher teacher = OnnxCrossEncoderTeacher.create(
        CrossEncoderConfig.of("tiny-c1", one, tokenizer).withProvider(ExecutionProvider.CPU))) {
      double[] scores = teacher.score(QUERY, PASSAGES);
      for (int i = 0; i < PASSAGES.size(); i++) {
        double z = byHand(QUERY, PASSAGES.get(i), 1)[0];
        assertThat(scores[i]).isCloseTo(1 / (1 + Math.exp(-z)), within(1e-5));
      }
    }
  }

  @Test
  void pairsAreTokenizedWithTypeIdsAndTruncatedLongestFirst() throws Exception {
    String longPassage = "fracture risk ".repeat(200);
    try (OnnxCrossEncoderTeacher teacher = OnnxCrossEncoderTeacher.create(config().withMaxTokens(24))) {
      OnnxCrossEncoderTeacher.Batch batch = teacher.encode("vitamin d", List.of(longPassage, "bone"));
      assertThat(batch.ids()[0]).hasSize(24);
      long[] ids = batch.ids()[0];
      assertThat(ids[0]).isEqualTo(101); // [CLS]
      assertThat(ids[23]).isEqualTo(102); // final [SEP]
      // The short query survives whole; the long passage gives way: [CLS] vitamin d [SEP] passage… [SEP]
      assertThat(ids[3]).isEqualTo(102);
      assertThat(batch.typeIds()[0][2]).isZero();
      assertThat(batch.typeIds()[0][4]).isEqualTo(1);
      // The short pair is padded with zeros and masked out.
      assertThat(batch.mask()[1][23]).isZero();
      assertThat(batch.ids()[1][23]).isZero();
      assertThat(batch.mask()[1][0]).isEqualTo(1);
      double[] s = teacher.score("vitamin d", List.of(longPassage));
      assertThat(s[0]).isBetween(0.0, 1.0);
    }
    // A long limit is honoured (the tokenizer.json's own 128 does not apply).
    try (OnnxCrossEncoderTeacher teacher = OnnxCrossEncoderTeacher.create(config().withMaxTokens(300))) {
      assertThat(teacher.encode("vitamin d", List.of(longPassage)).ids()[0]).hasSize(300);
    }
  }

  @Test
  void aGraphWithoutLogitsIsRejectedWithWhatItHas() throws Exception {
    Path bad = dir.resolve("no-logits.onnx");
    Files.write(bad, TinyCrossEncoderGenerator.model(2, "scores"));
    assertThatThrownBy(() -> OnnxCrossEncoderTeacher.create(CrossEncoderConfig.of("bad", bad, tokenizer)
        .withProvider(ExecutionProvider.CPU)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logits").hasMessageContaining("scores");
    assertThatThrownBy(() -> OnnxCrossEncoderTeacher.create(config().withPositiveIndex(2)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positiveIndex 2");
  }

  /** The tiny network by hand, in double precision over the float weights. */
  private static double[] byHand(String query, String passage, int classes) throws Exception {
    Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false",
        "modelMaxLength", "100000");
    Encoding e;
    try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(tokenizer, options)) {
      e = tok.encode(query, passage);
    }
    long[] ids = e.getIds();
    long[] types = e.getTypeIds();
    int dim = TinyCrossEncoderGenerator.DIM;
    double[] pooled = new double[dim];
    for (int t = 0; t < ids.length; t++) {
      int v = (int) (ids[t] % TinyCrossEncoderGenerator.VOCAB);
      for (int d = 0; d < dim; d++) {
        pooled[d] += TinyCrossEncoderGenerator.wordEmbedding(v, d)
            + (double) TinyCrossEncoderGenerator.typeEmbedding((int) types[t], d);
      }
    }
    double[] logits = new double[classes];
    for (int c = 0; c < classes; c++) {
      logits[c] = TinyCrossEncoderGenerator.bias(c);
      for (int d = 0; d < dim; d++) {
        logits[c] += pooled[d] / ids.length * TinyCrossEncoderGenerator.weight(d, c);
      }
    }
    return logits;
  }
}
