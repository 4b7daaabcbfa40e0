package io.d2search.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * One d2search service ({@code indexer}, {@code query-service}, {@code distiller}) in a JVM of its own, as a container
 * runs it: its settings in a properties file, its data directory kept across restarts (a volume), its output appended
 * to a log file. {@link #kill()} is {@code kill -9}; {@link #start()} after it is the orchestrator's restart.
 *
 * <p>The JVM runs the current JVM's {@code java} with its class path: the launcher's jar, whose manifest names the
 * dependencies, or a test fork's manifest-only jar (ONNX Runtime crashes on a long flat class path).
 */
public final class ServiceProcess implements AutoCloseable {
  /**
   * How the JVM is launched.
   *
   * @param mainClass the command line's main class (the serving jar's or the lab's)
   * @param maxHeap {@code -Xmx}'s value, e.g. {@code 1g}
   * @param nice the scheduling niceness (0: as this JVM; 1-19: lower priority, as a background job runs)
   */
  public record Launch(String mainClass, String maxHeap, int nice) {
    /** A serving service (indexer, query service) as the chaos suite runs it. */
    public static final Launch SERVING = new Launch("io.d2search.app.Main", "1g", 0);

    public Launch {
      Objects.requireNonNull(mainClass, "mainClass");
      Objects.requireNonNull(maxHeap, "maxHeap");
      if (nice < 0 || nice > 19) {
        throw new IllegalArgumentException("nice must be 0-19, not " + nice);
      }
    }
  }

  private static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.vector",
      "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC");

  private final String role;
  private final Path config;
  private final Path log;
  private final Launch launch;
  private Process process;
  private int starts;
  /** Stops the service when this JVM exits without closing it (Ctrl-C, SIGTERM): no orphaned JVM keeps running. */
  private Thread exitHook;

  /**
   * @param role the d2search subcommand
   * @param config its settings file
   * @param log where its output goes (appended across restarts)
   * @param launch how its JVM is launched
   */
  public ServiceProcess(String role, Path config, Path log, Launch launch) {
    this.role = Objects.requireNonNull(role, "role");
    this.config = Objects.requireNonNull(config, "config");
    this.log = Objects.requireNonNull(log, "log");
    this.launch = Objects.requireNonNull(launch, "launch");
  }

  /** A serving service ({@link Launch#SERVING}). */
  public ServiceProcess(String role, Path config, Path log) {
    this(role, config, log, Launch.SERVING);
  }

  /** Writes a settings file for a service: the whole of its configuration. */
  public static Path writeConfig(Path file, Map<String, String> settings) throws IOException {
    Properties p = new Properties();
    p.putAll(settings);
    try (var out = Files.newBufferedWriter(file)) {
      p.store(out, "d2search service settings");
    }
    return file;
  }

  /** Starts the JVM (again). */
  public synchronized void start() {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(role + " is running");
    }
    List<String> command = new ArrayList<>();
    if (launch.nice() > 0) {
      command.addAll(List.of("nice", "-n", String.valueOf(launch.nice()))); // execs java: the pid stays the JVM's
    }
    command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
        "java").toString()));
    command.addAll(JVM_FLAGS);
    command.add("-Xmx" + launch.maxHeap());
    command.add("-cp");
    command.add(classPath(log.getParent()));
    command.add(launch.mainClass());
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
      if (exitHook == null) {
        exitHook = new Thread(this::stopQuietly, role + "-stop-on-exit");
        Runtime.getRuntime().addShutdownHook(exitHook);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot start " + role, e);
    }
  }

  /**
   * This JVM's class path as one entry: itself when it is one jar (the launcher's), else a manifest-only jar naming
   * every entry, written into {@code dir} (a test fork's flat class path is far too long for ONNX Runtime).
   */
  public static String classPath(Path dir) {
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
  public synchronized void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** A graceful stop (SIGTERM: the service closes and commits), forced after 60 s. */
  public synchronized void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  public synchronized boolean alive() {
    return process != null && process.isAlive();
  }

  /** How it ended and the last lines of its log, for an error message. */
  public synchronized String tail(int lines) {
    String exit = process != null && !process.isAlive() ? "exit code " + process.exitValue() + "; " : "";
    try {
      List<String> all = Files.readAllLines(log);
      return exit + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  /**
   * The process's peak resident memory so far, in bytes; -1 where /proc does not say (not Linux, not started, or
   * ended).
   */
  public synchronized long peakResidentBytes() {
    return process == null ? -1 : peakResidentBytes(process.pid());
  }

  /** Peak resident memory of process {@code pid} so far ({@code VmHWM} of {@code /proc/PID/status}), or -1. */
  public static long peakResidentBytes(long pid) {
    return statusBytes(pid, "VmHWM");
  }

  /** A memory field of {@code /proc/PID/status} ({@code VmHWM}, {@code VmRSS}, ...) in bytes, or -1. */
  static long statusBytes(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not measurable here
    }
    return -1;
  }

  public String role() {
    return role;
  }

  public Path log() {
    return log;
  }

  @Override
  public void close() {
    stopQuietly();
    synchronized (this) {
      if (exitHook != null) {
        try {
          Runtime.getRuntime().removeShutdownHook(exitHook);
        } catch (IllegalStateException e) {
          // this JVM is exiting: the hook runs (or ran) anyway
        }
        exitHook = null;
      }
    }
  }

  private void stopQuietly() {
    try {
      stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      Process p = process;
      if (p != null) {
        p.destroyForcibly();
      }
    }
  }
}
