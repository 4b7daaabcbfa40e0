package io.d2search.bundle;

import java.net.URI;

/**
 * Where released model bundles are kept, and how a service opens one: by the {@code bundleUri} and {@code sha256} a
 * {@code ModelRelease} carries, verified before anything uses it. {@link DirectoryBundleStore} keeps bundles in a
 * directory (a volume shared by the services); an object store (S3, GCS) could implement this interface later by
 * fetching a bundle into a local directory and verifying it the same way.
 *
 * <p>Implementations are thread-safe.
 */
public interface BundleStore {

  /**
   * The URI under which the bundle of a version is published ({@code ModelRelease.bundleUri}).
   *
   * @throws IllegalArgumentException if the version cannot name a bundle
   */
  URI uriOf(String version);

  /**
   * Opens and verifies a released bundle: everything {@link ModelBundle#load} checks (weights and backbone against
   * the manifest), and its {@link ModelBundle#checksum()} must equal {@code sha256}.
   *
   * @param uri the release's bundle URI
   * @param sha256 the release's sha256 of {@code manifest.json}
   * @throws BundleException if the URI is not one of this store's, the bundle is missing, incomplete or corrupt, or
   *     its checksum is not {@code sha256}; the message names what is wrong (both checksums for a mismatch)
   */
  ModelBundle open(URI uri, String sha256);
}
