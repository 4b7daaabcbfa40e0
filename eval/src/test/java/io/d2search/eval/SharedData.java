package io.d2search.eval;

import java.nio.file.Path;

/** Where tests find the shared data: {@code ../shared/data} beside the repository (set by the build), or overridden. */
final class SharedData {
  private SharedData() {}

  /** The {@code d2search.sharedData} system property, which the parent POM sets for surefire; else {@code ../shared/data}. */
  static Path dir() {
    return Path.of(System.getProperty("d2search.sharedData", "../shared/data"));
  }
}
