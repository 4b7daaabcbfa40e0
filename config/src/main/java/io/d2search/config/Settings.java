package io.d2search.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Layered configuration: the documented defaults in {@code d2search-defaults.properties} (in this jar), then the
 * file given with {@code --config}, then environment variables, each overriding the one before. A key
 * {@code a.b-c} is read from the environment as {@code D2SEARCH_A_B_C}. Immutable.
 */
public final class Settings {
  private final Map<String, String> values;

  private Settings(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  /** Defaults, then the optional file, then the given environment. */
  /**
   * The documented defaults alone: no file, no environment. Components declare their default values through this
   * (e.g. {@code ChunkerConfig.DEFAULT_MAX_TOKENS}), so each default is written once, in the properties file.
   */
  /**
   * Settings under this prefix go, without it, to every Kafka client (Streams, producers, consumers, admin): TLS,
   * SASL and client tuning. The common security ones are listed in the defaults (so the environment can set them);
   * a config file may add any other.
   */
  public static final String KAFKA_CLIENT_PREFIX = "kafka.client.";

  public static Settings defaults() {
    return DefaultsHolder.DEFAULTS;
  }

  /** Loaded on first use: the properties file is read once per JVM. */
  private static final class DefaultsHolder {
    static final Settings DEFAULTS = load(null, Map.of());
  }

  public static Settings load(Path configFile, Map<String, String> env) {
    Map<String, String> merged = new TreeMap<>();
    Properties defaults = new Properties();
    try (InputStream in = Settings.class.getResourceAsStream("/d2search-defaults.properties")) {
      defaults.load(in);
    } catch (IOException | NullPointerException e) {
      throw new IllegalStateException("d2search-defaults.properties is missing from the application jar", e);
    }
    defaults.forEach((k, v) -> merged.put((String) k, (String) v));
    if (configFile != null) {
      Properties file = new Properties();
      try (Reader in = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
        file.load(in);
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot read config file " + configFile, e);
      }
      file.forEach((k, v) -> {
        if (!merged.containsKey((String) k) && !((String) k).startsWith(KAFKA_CLIENT_PREFIX)) {
          throw new IllegalArgumentException("Unknown setting '" + k + "' in " + configFile
              + "; known settings: " + String.join(", ", merged.keySet()));
        }
        merged.put((String) k, ((String) v).strip());
      });
    }
    for (String key : merged.keySet()) {
      String fromEnv = env.get(envName(key));
      if (fromEnv != null) {
        merged.put(key, fromEnv.strip());
      }
    }
    return new Settings(merged);
  }

  /** The environment variable that overrides a key. */
  public static String envName(String key) {
    return "D2SEARCH_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** A copy with one value replaced (command-line options win over everything). */
  public Settings with(String key, Object value) {
    if (value == null) {
      return this;
    }
    require(key);
    Map<String, String> copy = new TreeMap<>(values);
    copy.put(key, value.toString());
    return new Settings(copy);
  }

  /** The non-blank settings under {@link #KAFKA_CLIENT_PREFIX}, without it: Kafka client properties. */
  public Map<String, String> kafkaClient() {
    Map<String, String> out = new TreeMap<>();
    values.forEach((k, v) -> {
      if (k.startsWith(KAFKA_CLIENT_PREFIX) && !v.isBlank()) {
        out.put(k.substring(KAFKA_CLIENT_PREFIX.length()), v);
      }
    });
    return Map.copyOf(out);
  }

  public String string(String key) {
    return require(key);
  }

  public int integer(String key) {
    String v = require(key);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Setting " + key + " must be an integer, got '" + v + "'");
    }
  }

  public long longValue(String key) {
    String v = require(key);
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Setting " + key + " must be an integer, got '" + v + "'");
    }
  }

  public double doubleValue(String key) {
    String v = require(key);
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Setting " + key + " must be a number, got '" + v + "'");
    }
  }

  public boolean bool(String key) {
    String v = require(key).toLowerCase(Locale.ROOT);
    return switch (v) {
      case "true", "yes", "1" -> true;
      case "false", "no", "0" -> false;
      default -> throw new IllegalArgumentException("Setting " + key + " must be true or false, got '" + v + "'");
    };
  }

  public Path path(String key) {
    return Path.of(require(key));
  }

  /** Every key and its effective value, sorted. */
  public Map<String, String> asMap() {
    return new TreeMap<>(values);
  }

  private String require(String key) {
    String v = values.get(key);
    if (v == null) {
      throw new IllegalArgumentException("Unknown setting " + key);
    }
    return v;
  }
}
