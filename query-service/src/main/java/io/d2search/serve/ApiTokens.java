package io.d2search.serve;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Bearer tokens of the HTTP API and what each may do. With none configured the API is open (it listens on loopback
 * by default); with any, every route but {@code /health} needs a token with its right: {@link Right#SEARCH} for
 * {@code /search} and {@code /models}, {@link Right#CLICKS} for {@code /clicks}, {@link Right#ADMIN} for
 * {@code /metrics}. Tokens are kept as SHA-256 digests and compared in constant time; they are never logged.
 *
 * <p>Immutable and thread-safe.
 */
public final class ApiTokens {
  /** What a token may do. */
  public enum Right { SEARCH, CLICKS, ADMIN }

  private final Map<String, Set<Right>> byDigest;

  private ApiTokens(Map<String, Set<Right>> byDigest) {
    this.byDigest = Map.copyOf(byDigest);
  }

  /** No tokens: the API is open. */
  public static ApiTokens none() {
    return new ApiTokens(Map.of());
  }

  /**
   * Parses the {@code http.tokens} setting: comma-separated {@code right:token} pairs, e.g.
   * {@code search:abc,clicks:abc,admin:xyz} (a token listed under several rights has them all). Blank: none.
   *
   * @throws IllegalArgumentException naming the bad entry's position (never the token)
   */
  public static ApiTokens parse(String setting) {
    Map<String, Set<Right>> byDigest = new HashMap<>();
    if (setting == null || setting.isBlank()) {
      return none();
    }
    String[] entries = setting.split(",");
    for (int i = 0; i < entries.length; i++) {
      String entry = entries[i].strip();
      int colon = entry.indexOf(':');
      Right right;
      try {
        right = colon < 1 ? null : Right.valueOf(entry.substring(0, colon).strip().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        right = null;
      }
      String token = colon < 0 ? "" : entry.substring(colon + 1).strip();
      if (right == null || token.length() < 16) {
        throw new IllegalArgumentException("http.tokens entry " + (i + 1) + " must be search|clicks|admin:TOKEN with"
            + " a token of at least 16 characters");
      }
      byDigest.computeIfAbsent(digest(token), d -> EnumSet.noneOf(Right.class)).add(right);
    }
    return new ApiTokens(byDigest);
  }

  /** Whether any token is configured (else the API is open). */
  public boolean enabled() {
    return !byDigest.isEmpty();
  }

  /** The rights of a presented token; empty when it is none of ours. */
  public Optional<Set<Right>> rights(String token) {
    if (token == null || token.isEmpty()) {
      return Optional.empty();
    }
    byte[] presented = digest(token).getBytes(StandardCharsets.ISO_8859_1);
    Set<Right> found = null;
    for (Map.Entry<String, Set<Right>> e : byDigest.entrySet()) {
      // Every entry is compared, in constant time, so the answer's timing says nothing about the tokens.
      if (MessageDigest.isEqual(presented, e.getKey().getBytes(StandardCharsets.ISO_8859_1))) {
        found = e.getValue();
      }
    }
    return Optional.ofNullable(found);
  }

  private static String digest(String token) {
    try {
      return new String(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)),
          StandardCharsets.ISO_8859_1);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  @Override
  public String toString() {
    return "ApiTokens[" + byDigest.size() + " tokens]";
  }
}
