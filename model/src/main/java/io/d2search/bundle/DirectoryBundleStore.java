package io.d2search.bundle;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A {@link BundleStore} in a directory, {@code <root>/<version>/} per bundle (as {@link ModelBundle#write} creates
 * them, atomically): the setting {@code model.bundles-dir}. Across machines the directory is a shared volume,
 * mounted at the same path everywhere, since releases name bundles by {@code file:} URI.
 *
 * <p>{@link #open} takes only {@code file:} URIs of directories under the root (after resolving {@code ..} and
 * symbolic links), so a release cannot point a service at an arbitrary directory. Immutable and thread-safe.
 */
public final class DirectoryBundleStore implements BundleStore {
  private static final Pattern VERSION = Pattern.compile("[A-Za-z0-9._-]+");

  private final Path root;

  /** @param root the bundles directory; need not exist yet */
  public DirectoryBundleStore(Path root) {
    this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
  }

  /** The bundles directory, absolute and normalised. */
  public Path root() {
    return root;
  }

  /**
   * The directory of a version's bundle, {@code <root>/<version>}.
   *
   * @throws IllegalArgumentException if the version is not a plain directory name ({@code [A-Za-z0-9._-]+}, not
   *     {@code .} or {@code ..})
   */
  public Path dirOf(String version) {
    if (version == null || !VERSION.matcher(version).matches() || version.equals(".") || version.equals("..")) {
      throw new IllegalArgumentException("not a bundle version: " + version);
    }
    return root.resolve(version);
  }

  @Override
  public URI uriOf(String version) {
    return dirOf(version).toUri();
  }

  @Override
  public ModelBundle open(URI uri, String sha256) {
    Objects.requireNonNull(uri, "uri");
    Objects.requireNonNull(sha256, "sha256");
    ModelBundle bundle = ModelBundle.load(directoryOf(uri));
    if (!bundle.checksum().equals(sha256)) {
      throw new BundleException(bundle.directory() + ": manifest.json has sha256 " + bundle.checksum()
          + " but the release says " + sha256 + " (another or an altered bundle)");
    }
    return bundle;
  }

  /** The bundle directory a URI names, refused unless it is a {@code file:} URI under the root. */
  private Path directoryOf(URI uri) {
    if (!"file".equalsIgnoreCase(uri.getScheme())) {
      throw new BundleException("bundle URI " + uri + " is not a file: URI (this store is the directory " + root
          + ")");
    }
    Path dir;
    try {
      dir = Path.of(uri).toAbsolutePath().normalize();
    } catch (IllegalArgumentException | FileSystemNotFoundException e) {
      throw new BundleException("bundle URI " + uri + " does not name a local directory: " + e.getMessage(), e);
    }
    if (!dir.startsWith(root) || dir.equals(root)) {
      throw new BundleException("bundle URI " + uri + " is outside the bundle store " + root);
    }
    if (Files.exists(dir)) {
      try { // a symbolic link inside the root must not lead out of it
        if (!dir.toRealPath().startsWith(root.toRealPath())) {
          throw new BundleException("bundle URI " + uri + " leads outside the bundle store " + root
              + " (through a symbolic link)");
        }
      } catch (IOException e) {
        throw new BundleException("bundle directory " + dir + " cannot be resolved: " + e.getMessage(), e);
      }
    }
    return dir;
  }

  @Override
  public String toString() {
    return "DirectoryBundleStore[" + root + "]";
  }
}
