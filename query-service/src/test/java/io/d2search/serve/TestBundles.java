package io.d2search.serve;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Tensor;
import io.d2search.embed.PmaHead;
import io.d2search.events.ModelRelease;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.rank.IemHead;
import io.d2search.schemas.Topics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * Real bundles derived from a parent, written with {@link ModelBundle#write} as the distiller writes them, and the
 * {@code ModelRelease} records that announce them.
 */
final class TestBundles {
  private TestBundles() {}

  /** A HEADS child: the parent's backbone and PMA tensors, and a new IEM head (null: none). */
  static ModelBundle heads(Path dir, ModelBundle parent, String version, IemHead iem) {
    Map<String, Tensor> tensors = new TreeMap<>(HeadTensors.of((PmaHead) parent.pooling()));
    if (iem != null) {
      tensors.putAll(HeadTensors.of(iem));
    }
    return write(dir, parent, version, parent.manifest().pooling(), iem, tensors);
  }

  /** A FULL child: the parent's backbone, another PMA (other heads, other seed), and an IEM head. */
  static ModelBundle otherPooling(Path dir, ModelBundle parent, String version, IemHead iem) {
    int d = parent.manifest().dimension();
    Map<String, Tensor> tensors = new TreeMap<>(HeadTensors.of(PmaHead.meanInit(d, 4, 7)));
    tensors.putAll(HeadTensors.of(iem));
    return write(dir, parent, version, Manifest.PoolingSpec.pma(4), iem, tensors);
  }

  private static ModelBundle write(Path dir, ModelBundle parent, String version, Manifest.PoolingSpec pooling,
      IemHead iem, Map<String, Tensor> tensors) {
    Manifest m = parent.manifest();
    Manifest child = new Manifest(Manifest.FORMAT_VERSION, version, parent.version(), m.backbone(), m.dimension(),
        pooling, iem == null ? null : Manifest.IemSpec.of(iem.input(), iem.hidden()), null, null, Map.of(),
        "2026-03-04T05:06:07Z");
    ModelBundle.write(dir, child, tensors);
    return ModelBundle.load(dir);
  }

  /** A CURRENT release of a bundle, with its URI and checksum. */
  static ModelRelease release(ModelBundle bundle, ReleaseKind kind) {
    return release(bundle.version(), bundle.manifest().parent(), bundle.directory().toUri().toString(),
        bundle.checksum(), kind, ReleaseStage.CURRENT);
  }

  static ModelRelease release(String version, String parent, String uri, String sha256, ReleaseKind kind,
      ReleaseStage stage) {
    // As the distiller publishes them: a FULL release's vectors in their own topic, a HEADS release over version 0's.
    String topic = kind == ReleaseKind.FULL ? Topics.embeddingsTopicOf(version) : Topics.EMBEDDINGS;
    return ModelRelease.newBuilder().setVersion(version).setParentVersion(parent).setBundleUri(uri)
        .setSha256(sha256).setKind(kind).setStage(stage).setEmbeddingsTopic(topic).setMetrics(Map.of("ndcg@10", 0.5))
        .setTs(Instant.now()).build();
  }

  /** The release with another sha256 (one the bundle does not have). */
  static ModelRelease withSha256(ModelRelease release, String sha256) {
    return release(release.getVersion(), release.getParentVersion(), release.getBundleUri(), sha256,
        release.getKind(), release.getStage());
  }

  /** The release as another kind or stage. */
  static ModelRelease as(ModelRelease release, ReleaseKind kind, ReleaseStage stage) {
    return release(release.getVersion(), release.getParentVersion(), release.getBundleUri(), release.getSha256(),
        kind, stage);
  }
}
