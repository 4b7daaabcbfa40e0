package io.d2search.app;

import io.d2search.config.Settings;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --config} option every service command shares. */
public final class ConfigOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "Properties file overriding the defaults (see d2search-defaults.properties); "
          + "environment variables D2SEARCH_* override both.")
  Path configFile;

  public Settings settings() {
    return Settings.load(configFile, System.getenv());
  }
}
