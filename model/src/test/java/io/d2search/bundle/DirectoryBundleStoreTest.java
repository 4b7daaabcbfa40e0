package io.d2search.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.bundle.Manifest.PoolingSpec;
import io.d2search.embed.PmaHead;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening released bundles from a directory: verified, matched to the release's sha256, and only under the root. */
class DirectoryBundleStoreTest {
  @TempDir
  Path tmp;
  private FakeBundles fakes;
  private FakeBundles.Backbone backbone;
  private DirectoryBundleStore store;
  private Manifest written;

  @BeforeEach
  void writeABundle() throws IOException {
    fakes = new FakeBundles(tmp, "DirectoryBundleStoreTest");
    backbone = fakes.backbone("fake");
    store = new DirectoryBundleStore(tmp.resolve("bundles"));
    PmaHead pma = fakes.randomPma();
    written = ModelBundle.write(store.dirOf("7"), FakeBundles.manifest("7", "6", backbone.spec(128),
        PoolingSpec.pma(FakeBundles.HEADS), FakeBundles.iemSpec()), FakeBundles.tensors(pma, fakes.randomIem()));
  }

  private String checksumOf(String version) throws IOException {
    return ModelBundle.load(store.dirOf(version)).checksum();
  }

  @Test
  void opensTheBundleAReleaseNames() throws IOException {
    URI uri = store.uriOf("7");
    assertThat(uri.getScheme()).isEqualTo("file");
    assertThat(Path.of(uri)).isEqualTo(tmp.resolve("bundles/7").toAbsolutePath());
    ModelBundle bundle = store.open(uri, checksumOf("7"));
    assertThat(bundle.version()).isEqualTo("7");
    assertThat(bundle.manifest()).isEqualTo(written);
    assertThat(bundle.iem()).isPresent();
    // The same directory through a relative, non-normalised path is the same bundle.
    assertThat(store.open(URI.create(uri + "/../7"), bundle.checksum()).checksum()).isEqualTo(bundle.checksum());
  }

  @Test
  void refusesAChecksumThatIsNotTheReleasesNamingBoth() throws IOException {
    String actual = checksumOf("7");
    String claimed = "ab".repeat(32);
    assertThatThrownBy(() -> store.open(store.uriOf("7"), claimed)).isInstanceOf(BundleException.class)
        .hasMessageContaining(actual).hasMessageContaining(claimed);
  }

  @Test
  void refusesAnAlteredManifestOrCorruptWeights() throws IOException {
    String released = checksumOf("7");
    Path manifest = store.dirOf("7").resolve(ModelBundle.MANIFEST_FILE);
    String json = Files.readString(manifest);
    // Still a valid bundle, but not the one released: only the checksum tells.
    Files.writeString(manifest, json.replace("\"createdAt\": \"2026-01-02T03:04:05Z\"",
        "\"createdAt\": \"2026-01-02T03:04:06Z\""));
    assertThat(ModelBundle.load(store.dirOf("7")).checksum()).isNotEqualTo(released);
    assertThatThrownBy(() -> store.open(store.uriOf("7"), released)).isInstanceOf(BundleException.class)
        .hasMessageContaining("the release says " + released);
    Files.writeString(manifest, json.substring(0, json.length() / 2));
    assertThatThrownBy(() -> store.open(store.uriOf("7"), released)).isInstanceOf(BundleException.class)
        .hasMessageContaining("manifest.json is invalid");

    Files.writeString(manifest, json);
    assertThat(store.open(store.uriOf("7"), released).checksum()).isEqualTo(released);
    Path weights = store.dirOf("7").resolve(ModelBundle.WEIGHTS_FILE);
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length - 3] ^= 0x10;
    Files.write(weights, bytes);
    assertThatThrownBy(() -> store.open(store.uriOf("7"), released)).isInstanceOf(BundleException.class)
        .hasMessageContaining("heads.safetensors").hasMessageContaining("corrupt or replaced weights");
  }

  @Test
  void refusesAMissingBundle() {
    assertThatThrownBy(() -> store.open(store.uriOf("8"), "ab".repeat(32))).isInstanceOf(BundleException.class)
        .hasMessageContaining("no manifest.json");
  }

  @Test
  void refusesUrisOutsideTheRootOrNotFiles() throws IOException {
    String checksum = checksumOf("7");
    Path outside = tmp.resolve("elsewhere/7");
    ModelBundle.write(outside, written, FakeBundles.tensors(fakes.randomPma(), fakes.randomIem()));
    String outsideChecksum = ModelBundle.load(outside).checksum();
    assertThatThrownBy(() -> store.open(outside.toUri(), outsideChecksum)).isInstanceOf(BundleException.class)
        .hasMessageContaining("outside the bundle store");
    assertThatThrownBy(() -> store.open(URI.create(store.uriOf("7") + "/../../elsewhere/7"), outsideChecksum))
        .isInstanceOf(BundleException.class).hasMessageContaining("outside the bundle store");
    assertThatThrownBy(() -> store.open(store.root().toUri(), checksum)).isInstanceOf(BundleException.class)
        .hasMessageContaining("outside the bundle store");
    assertThatThrownBy(() -> store.open(URI.create("https://bundles.example.org/7"), checksum))
        .isInstanceOf(BundleException.class).hasMessageContaining("not a file: URI");
    assertThatThrownBy(() -> store.open(URI.create("7"), checksum)).isInstanceOf(BundleException.class)
        .hasMessageContaining("not a file: URI");
    Path link = store.root().resolve("9");
    Files.createSymbolicLink(link, outside);
    assertThatThrownBy(() -> store.open(link.toUri(), outsideChecksum)).isInstanceOf(BundleException.class)
        .hasMessageContaining("symbolic link");
  }

  @Test
  void versionsMustBePlainDirectoryNames() {
    assertThat(store.dirOf("3.1-rc_2")).isEqualTo(store.root().resolve("3.1-rc_2"));
    for (String bad : new String[] {"..", ".", "a/b", "", "7 ", "../7"}) {
      assertThatThrownBy(() -> store.uriOf(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
