package io.d2search.distill;

import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Reads and writes {@code heads.safetensors} through the model module's {@link Safetensors}, so training and
 * serving share one reader and one writer. Writes go to a temporary file that then replaces the target atomically.
 */
final class HeadsFile {
  private HeadsFile() {}

  static Map<String, Tensor> read(Path file) {
    return Safetensors.read(file).tensors();
  }

  static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
    Path dir = file.toAbsolutePath().getParent();
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
      try {
        Safetensors.write(tmp, tensors, metadata);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file, e);
    }
  }
}
