package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.bundle.Manifest.BackboneSpec;
import io.d2search.bundle.Manifest.PoolingSpec;
import io.d2search.embed.PmaHead;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelBundle#passageVectorsId()}: equal exactly when two bundles embed passages alike, whatever their IEM
 * heads; the query service adopts a HEADS release only when it keeps the id of the bundle it serves.
 */
class PassageVectorsIdTest {
  @TempDir
  Path tmp;
  private FakeBundles fakes;
  private BackboneSpec backbone;
  private PmaHead pma;
  private ModelBundle parent;
  private int next;

  @BeforeEach
  void writeTheParent() throws IOException {
    fakes = new FakeBundles(tmp, "PassageVectorsIdTest");
    backbone = fakes.backbone("fake").spec(128);
    pma = fakes.randomPma();
    parent = write(backbone, PoolingSpec.pma(FakeBundles.HEADS), FakeBundles.tensors(pma, null), false);
  }

  private ModelBundle write(BackboneSpec on, PoolingSpec pooling, Map<String, Tensor> tensors, boolean iem) {
    String version = Integer.toString(next++);
    ModelBundle.write(tmp.resolve("bundles").resolve(version), FakeBundles.manifest(version, null, on, pooling,
        iem ? FakeBundles.iemSpec() : null), tensors);
    return ModelBundle.load(tmp.resolve("bundles").resolve(version));
  }

  @Test
  void aNewIemHeadKeepsTheId() {
    ModelBundle heads = write(backbone, PoolingSpec.pma(FakeBundles.HEADS),
        FakeBundles.tensors(pma, fakes.randomIem()), true);
    ModelBundle otherHeads = write(backbone, PoolingSpec.pma(FakeBundles.HEADS),
        FakeBundles.tensors(pma, fakes.randomIem()), true);
    assertThat(parent.passageVectorsId()).hasSize(64).isEqualTo(heads.passageVectorsId())
        .isEqualTo(otherHeads.passageVectorsId());
    assertThat(heads.checksum()).isNotEqualTo(parent.checksum()).isNotEqualTo(otherHeads.checksum());
    assertThat(ModelBundle.load(heads.directory()).passageVectorsId()).as("stable across loads")
        .isEqualTo(heads.passageVectorsId());
  }

  @Test
  void anotherPoolingChangesTheId() {
    Map<String, Tensor> nudged = FakeBundles.tensors(pma, fakes.randomIem());
    float[] seed = nudged.get(HeadTensors.PMA_SEED).data();
    seed[0] = Math.nextUp(seed[0]); // one float, one ulp
    nudged.put(HeadTensors.PMA_SEED, Tensor.of(seed, 1, FakeBundles.D));
    assertThat(write(backbone, PoolingSpec.pma(FakeBundles.HEADS), nudged, true).passageVectorsId())
        .isNotEqualTo(parent.passageVectorsId());
    assertThat(write(backbone, PoolingSpec.pma(FakeBundles.HEADS * 2), FakeBundles.tensors(pma, null), false)
        .passageVectorsId()).as("same tensors, other head count").isNotEqualTo(parent.passageVectorsId());
    assertThat(write(backbone, PoolingSpec.mean(), Map.of(), false).passageVectorsId())
        .isNotEqualTo(parent.passageVectorsId());
  }

  @Test
  void anotherBackboneOrTokenLimitChangesTheId() throws IOException {
    BackboneSpec other = fakes.backbone("other").spec(128);
    assertThat(write(other, PoolingSpec.pma(FakeBundles.HEADS), FakeBundles.tensors(pma, null), false)
        .passageVectorsId()).isNotEqualTo(parent.passageVectorsId());
    BackboneSpec shorter = new BackboneSpec(backbone.id(), backbone.artifact(), backbone.onnx(), backbone.tokenizer(),
        backbone.sha256(), 64);
    assertThat(write(shorter, PoolingSpec.pma(FakeBundles.HEADS), FakeBundles.tensors(pma, null), false)
        .passageVectorsId()).isNotEqualTo(parent.passageVectorsId());
  }
}
