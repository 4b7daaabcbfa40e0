package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.config.Settings;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where {@code distill} and {@code eval} keep what is slow to compute and the same for both: corpus vectors per
 * model and backbone token states. Shared, so a student that {@code distill} wrote costs {@code eval} a pooling
 * pass, not a backbone pass.
 */
final class CacheOptions {
  @Option(names = "--cache-dir", paramLabel = "DIR",
      description = "Corpus vector cache, shared by distill and eval (default: <data.dir>/cache/vectors).")
  Path cacheDir;

  @Option(names = "--token-cache", paramLabel = "DIR",
      description = "Backbone token-state cache, shared by distill and eval (default: token-states beside the "
          + "vector cache).")
  Path tokenCache;

  /** Both directories, resolved against the settings. */
  record Dirs(Path vectors, Path tokenStates) {}

  /** Where the caches are: the options, else under setting {@code data.dir}. */
  Dirs dirs(Settings settings) {
    Path vectors = cacheDir != null ? cacheDir : Components.dataDir(settings).resolve("cache").resolve("vectors");
    return new Dirs(vectors, tokenCache != null ? tokenCache : vectors.resolveSibling("token-states"));
  }
}
