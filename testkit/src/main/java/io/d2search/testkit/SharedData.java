package io.d2search.testkit;

import java.nio.file.Path;

/**
 * Where tests find the shared data sets: the {@code d2search.sharedData} system property, which the parent POM sets
 * for surefire and failsafe to {@code ../shared/data} beside the repository; else {@code ../shared/data}.
 */
public final class SharedData {
  private SharedData() {}

  public static Path dir() {
    return Path.of(System.getProperty("d2search.sharedData", "../shared/data"));
  }
}
