package io.d2search.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Runs the real bundled all-MiniLM-L6-v2 through ONNX Runtime. */
class EmbedderTest {
  private static Embedder embedder;

  @BeforeAll
  static void load() {
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  @AfterAll
  static void close() {
    embedder.close();
  }

  static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  @Test
  void describesTheBundledModel() {
    ModelInfo info = embedder.info();
    assertThat(info.dimension()).isEqualTo(384);
    assertThat(info.backboneId()).isEqualTo("all-minilm-l6-v2");
    assertThat(info.backboneSha256()).hasSize(64);
    assertThat(info.provider()).isEqualTo(ExecutionProvider.CPU);
    assertThat(info.version()).isEqualTo("0");
  }

  @Test
  void vectorsAreUnitLengthAndMeaningful() {
    List<float[]> v = embedder.embed(List.of(
        "A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."));
    for (float[] x : v) {
      assertThat(x).hasSize(384);
      assertThat(dot(x, x)).isCloseTo(1.0, within(1e-4));
    }
    assertThat(dot(v.get(0), v.get(1))).isGreaterThan(0.6).isGreaterThan(dot(v.get(0), v.get(2)) + 0.4);
  }

  @Test
  void batchingAndPaddingDoNotChangeVectors() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    List<String> texts = new ArrayList<>();
    String[] words = {"protein", "cell", "cancer", "the", "of", "gene", "expression", "increases", "in", "mice"};
    for (int i = 0; i < 40; i++) {
      StringBuilder sb = new StringBuilder();
      for (int w = 0, n = 1 + random.nextInt(60); w < n; w++) {
        sb.append(words[random.nextInt(words.length)]).append(' ');
      }
      texts.add(sb.toString().strip());
    }
    List<float[]> batched = embedder.embed(texts);
    for (int i = 0; i < texts.size(); i += 7) {
      float[] alone = embedder.embed(texts.get(i));
      assertThat(dot(alone, batched.get(i))).as("seed %d, text %d", seed, i).isCloseTo(1.0, within(1e-4));
    }
  }

  @Test
  void truncatesAtMaxTokensKeepingTheSeparator() {
    String longText = "word ".repeat(600);
    assertThat(embedder.tokenizer().countTokens(longText)).isEqualTo(600);
    TextTokenizer.Batch batch = embedder.tokenizer().encode(List.of(longText, "short"), 256);
    assertThat(batch.width()).isEqualTo(256);
    assertThat(batch.ids()[0][255]).isEqualTo(102); // [SEP]
    assertThat(batch.ids()[0][0]).isEqualTo(101); // [CLS]
    assertThat(batch.mask()[1]).containsOnly(1L, 0L);
    // Text past the limit does not change the vector.
    assertThat(dot(embedder.embed(longText), embedder.embed(longText + " extra words at the end")))
        .isCloseTo(1.0, within(1e-5));
  }

  @Test
  void tokenSpansPointIntoTheText() {
    String text = "Vitamin D deficiency is common.";
    List<TextTokenizer.Span> spans = embedder.tokenizer().spans(text);
    assertThat(spans).hasSize(embedder.tokenizer().countTokens(text));
    assertThat(text.substring(spans.get(0).start(), spans.get(0).end())).isEqualToIgnoringCase("vitamin");
    for (int i = 1; i < spans.size(); i++) {
      assertThat(spans.get(i).start()).isGreaterThanOrEqualTo(spans.get(i - 1).end());
    }
  }
}
