package io.d2search.bundle;

/**
 * A model bundle or safetensors file that is corrupt, incomplete, or does not match its manifest or backbone.
 * The message names the file, tensor or field at fault.
 */
public final class BundleException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BundleException(String message) {
    super(message);
  }

  public BundleException(String message, Throwable cause) {
    super(message, cause);
  }
}
