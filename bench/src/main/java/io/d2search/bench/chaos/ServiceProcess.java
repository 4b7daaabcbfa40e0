package io.d2search.bench.chaos;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * One d2search service ({@code indexer}, {@code query-service}) in a JVM of its own, as a container runs it: its
 * settings in a properties file, its data directory kept across restarts (a volume), its output appended to a log
 * file. {@link #kill()} is {@code kill -9}; {@link #start()} after it is the orchestrator's restart.
 *
 * <p>The JVM runs the current JVM's {@code java} with its class path: the launcher's jar, whose manifest names the
 * dependencies, or a test fork's manifest-only jar (ONNX Runtime crashes on a long flat class path).
 */
final class ServiceProcess implements AutoCloseable {
  private static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.vector",
      "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-XX:+UseSerialGC");

  private final String role;
  private final Path config;
  private final Path log;
  private Process process;
  private int starts;

  /**
   * @param role the d2search subcommand
   * @param config its settings file
   * @param log where its output goes (appended across restarts)
   */
  ServiceProcess(String role, Path config, Path log) {
    this.role = Objects.requireNonNull(role, "role");
    this.config = Objects.requireNonNull(config, "config");
    this.log = Objects.requireNonNull(log, "log");
  }

  /** Starts the JVM (again). */
  synchronized void start() {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(role + " is running");
    }
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
        "java").toString()));
    command.addAll(JVM_FLAGS);
    command.add("-cp");
    command.add(classPath(log.getParent()));
    command.add("io.d2search.app.Main");
    command.add(role);
    command.add("--config");
    command.add(config.toString());
    try {
      Files.writeString(log, "=== start " + (++starts) + ": " + String.join(" ", command) + "\n", java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      // The settings file is the whole configuration: none of this JVM's D2SEARCH_* variables leak in.
      builder.environment().keySet().removeIf(k -> k.startsWith("D2SEARCH_"));
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot start " + role, e);
    }
  }

  /**
   * This JVM's class path as one entry: itself when it is one jar (the launcher's), else a manifest-only jar naming
   * every entry, written into {@code dir} (a test fork's flat class path is far too long for ONNX Runtime).
   */
  static String classPath(Path dir) {
    String[] entries = System.getProperty("java.class.path").split(java.io.File.pathSeparator);
    if (entries.length == 1) {
      return entries[0];
    }
    Path jar = dir.resolve("classpath.jar");
    java.util.jar.Manifest manifest = new java.util.jar.Manifest();
    java.util.jar.Attributes main = manifest.getMainAttributes();
    main.put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
    StringBuilder classPath = new StringBuilder();
    for (String entry : entries) {
      // URIs, so spaces are escaped and directories end with '/', as Class-Path requires.
      classPath.append(Path.of(entry).toAbsolutePath().toUri()).append(' ');
    }
    main.put(java.util.jar.Attributes.Name.CLASS_PATH, classPath.toString().trim());
    try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar), manifest)) {
      // the manifest is the whole jar
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + jar, e);
    }
    return jar.toString();
  }

  /** {@code kill -9}: no shutdown hook runs, nothing is flushed or committed. */
  synchronized void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** A graceful stop (SIGTERM: the service closes and commits), forced after 60 s. */
  synchronized void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  synchronized boolean alive() {
    return process != null && process.isAlive();
  }

  /** How it ended and the last lines of its log, for an error message. */
  synchronized String tail(int lines) {
    String exit = process != null && !process.isAlive() ? "exit code " + process.exitValue() + "; " : "";
    try {
      List<String> all = Files.readAllLines(log);
      return exit + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  String role() {
    return role;
  }

  Path log() {
    return log;
  }

  @Override
  public void close() {
    try {
      stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      if (process != null) {
        process.destroyForcibly();
      }
    }
  }
}
