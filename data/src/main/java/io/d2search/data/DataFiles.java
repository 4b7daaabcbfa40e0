package io.d2search.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Opening the shared data files: plain or gzip text, UTF-8. */
final class DataFiles {
  private DataFiles() {}

  /**
   * A UTF-8 reader of the file, decompressed when its name ends in {@code .gz}. Lines may end in {@code \n} or
   * {@code \r\n} (STS-B uses the latter); {@link BufferedReader#readLine} strips both. Bytes that are not
   * UTF-8 become U+FFFD rather than failing the whole file (the shared files are valid UTF-8).
   *
   * @throws IllegalArgumentException if the file does not exist
   */
  static BufferedReader open(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("No such data file: " + file);
    }
    InputStream in = Files.newInputStream(file);
    try {
      if (file.getFileName().toString().endsWith(".gz")) {
        in = new GZIPInputStream(in, 1 << 16);
      }
    } catch (IOException e) {
      in.close();
      throw e;
    }
    return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
  }
}
