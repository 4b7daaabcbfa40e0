package io.d2search.app;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code docker compose} (the plugin) or {@code docker-compose} (Debian's) on {@code deploy/compose.yaml}, as one
 * named project, and {@code docker} for what compose leaves out (kill, inspect). Each call waits for the command
 * and fails with its output when it exits non-zero.
 */
final class Compose implements AutoCloseable {
  private final List<String> compose;
  private final Path projectDir;
  private final Map<String, String> env;
  private final String project;

  private Compose(List<String> compose, Path projectDir, String project, Map<String, String> env) {
    this.project = project;
    List<String> base = new ArrayList<>(compose);
    base.addAll(List.of("-p", project, "-f", projectDir.resolve("deploy/compose.yaml").toString()));
    this.compose = List.copyOf(base);
    this.projectDir = projectDir;
    this.env = Map.copyOf(env);
  }

  /** The compose command this machine has, or null: the plugin first, then the standalone binary. */
  static List<String> command() {
    for (List<String> candidate : List.of(List.of("docker", "compose"), List.of("docker-compose"))) {
      List<String> version = new ArrayList<>(candidate);
      version.add("version");
      try {
        if (run(version, Path.of("."), Map.of(), Duration.ofSeconds(30), false).exit() == 0) {
          return candidate;
        }
      } catch (UncheckedIOException e) {
        // not installed
      }
    }
    return null;
  }

  static Compose of(List<String> command, Path projectDir, String project, Map<String, String> env) {
    return new Compose(command, projectDir, project, env);
  }

  /** Runs {@code compose <args>}. */
  String compose(Duration timeout, String... args) {
    return compose(Map.of(), timeout, args);
  }

  /** Runs {@code compose <args>} with extra environment (e.g. the corpus a one-off ingest reads). */
  String compose(Map<String, String> extraEnv, Duration timeout, String... args) {
    List<String> cmd = new ArrayList<>(compose);
    cmd.addAll(Arrays.asList(args));
    Map<String, String> all = new HashMap<>(env);
    all.putAll(extraEnv);
    return run(cmd, projectDir, all, timeout, true).output();
  }

  /** The container ids of a service's replicas, in compose's order. */
  List<String> containers(String service) {
    return compose(Duration.ofSeconds(60), "ps", "-q", service).lines().map(String::strip)
        .filter(s -> !s.isEmpty()).toList();
  }

  /** The container id of replica {@code number} (1-based) of a service, by compose's labels (v1 and v2 alike). */
  String container(String service, int number) {
    String id = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=" + project,
        "--filter", "label=com.docker.compose.service=" + service,
        "--filter", "label=com.docker.compose.container-number=" + number).strip();
    if (id.isEmpty() || id.contains("\n")) {
      throw new IllegalStateException("no single container for " + service + " #" + number + ": '" + id + "'");
    }
    return id;
  }

  /** Runs {@code docker <args>}. */
  String docker(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add("docker");
    cmd.addAll(Arrays.asList(args));
    return run(cmd, projectDir, env, Duration.ofMinutes(2), true).output();
  }

  /** Stops and removes the project's containers, networks and volumes. */
  @Override
  public void close() {
    compose(Duration.ofMinutes(3), "down", "-v", "--remove-orphans");
  }

  record Result(int exit, String output) {}

  static Result run(List<String> cmd, Path dir, Map<String, String> env, Duration timeout, boolean check) {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    try {
      Path out = Files.createTempFile("compose", ".log");
      pb.redirectOutput(out.toFile());
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + timeout);
      }
      String output = Files.readString(out, StandardCharsets.UTF_8);
      Files.deleteIfExists(out);
      if (check && p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + output);
      }
      return new Result(p.exitValue(), output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
