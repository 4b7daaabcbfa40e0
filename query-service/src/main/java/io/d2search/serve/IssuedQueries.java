package io.d2search.serve;

import io.d2search.config.Settings;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The query ids a query service issues, so that {@code POST /clicks} takes only clicks that can be right: clicks
 * feed the retraining loop, and anyone who reaches the port could otherwise feed it made-up ones.
 *
 * <p>A query id is {@code <uuid>.<issued-at ms, base 36>.<HMAC-SHA256 of both, 16 bytes, base64url>}. A click is
 * accepted when its query id carries a valid signature (any replica configured with the same secret can check
 * it), is younger than the click window, and, when this service issued it and still remembers the results (the
 * last {@code capacity} searches), names the passage that was shown at that rank. A click on a query another
 * replica issued is checked for signature and age only; the feedback join checks it against the impression.
 *
 * <p>Thread-safe.
 */
public final class IssuedQueries {
  private static final int MAC_BYTES = 16;

  /**
   * How clicks are checked.
   *
   * @param window how long after the search a click is accepted
   * @param capacity searches whose results are remembered for the exact check, {@code >= 1}
   * @param secret the signing key; the same on every replica so that each can check the others' ids. Empty: a
   *     random key for this process (only this process's ids are accepted)
   * @param clicksPerMinute clicks one client (address) may send per minute, {@code >= 1}; more answer 429
   */
  public record Policy(Duration window, int capacity, String secret, int clicksPerMinute) {
    public Policy {
      Objects.requireNonNull(window, "window");
      Objects.requireNonNull(secret, "secret");
      if (window.isNegative() || window.isZero()) {
        throw new IllegalArgumentException("click window must be positive: " + window);
      }
      if (capacity < 1) {
        throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
      }
      if (clicksPerMinute < 1) {
        throw new IllegalArgumentException("clicksPerMinute must be >= 1: " + clicksPerMinute);
      }
    }

    /** The documented defaults ({@code search.click-*} settings), a random key. */
    public static Policy defaults() {
      Settings d = Settings.defaults();
      return new Policy(Duration.ofMillis(d.longValue("search.click-window-ms")), d.integer("search.click-memory"),
          "", d.integer("search.clicks-per-minute"));
    }

    @Override
    public String toString() {
      return "Policy[window=" + window + ", capacity=" + capacity + ", secret=" + (secret.isEmpty() ? "random"
          : "(set)") + ", clicksPerMinute=" + clicksPerMinute + "]"; // never the key itself
    }
  }

  /** Why a click was refused; the message is for the client. */
  public static final class RejectedClick extends IllegalArgumentException {
    RejectedClick(String message) {
      super(message);
    }
  }

  private final Policy policy;
  private final SecretKeySpec key;
  private final Map<String, List<String>> shown;

  public IssuedQueries(Policy policy) {
    this.policy = Objects.requireNonNull(policy, "policy");
    byte[] secret = policy.secret().isEmpty() ? randomKey() : policy.secret().getBytes(StandardCharsets.UTF_8);
    this.key = new SecretKeySpec(secret, "HmacSHA256");
    int capacity = policy.capacity();
    this.shown = new LinkedHashMap<>(16, 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, List<String>> eldest) {
        return size() > capacity;
      }
    };
  }

  /** How clicks are checked. */
  public Policy policy() {
    return policy;
  }

  /** A new signed query id for a search that showed {@code passageIds} in this order. */
  public String issue(List<String> passageIds, long nowMs) {
    String body = UUID.randomUUID() + "." + Long.toString(nowMs, 36);
    String id = body + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(mac(body));
    synchronized (shown) {
      shown.put(id, List.copyOf(passageIds));
    }
    return id;
  }

  /**
   * Checks a click.
   *
   * @throws RejectedClick if the query id is not one a service with this key issued, is older than the window, or
   *     names a passage that was not shown at {@code rank}
   */
  public void check(String queryId, String passageId, int rank, long nowMs) {
    int lastDot = queryId.lastIndexOf('.');
    int firstDot = queryId.indexOf('.');
    if (firstDot < 0 || lastDot == firstDot) {
      throw new RejectedClick("unknown queryId: not one this service issued");
    }
    String body = queryId.substring(0, lastDot);
    byte[] given;
    long issuedAt;
    try {
      given = Base64.getUrlDecoder().decode(queryId.substring(lastDot + 1));
      issuedAt = Long.parseLong(queryId.substring(firstDot + 1, lastDot), 36);
    } catch (IllegalArgumentException e) {
      throw new RejectedClick("unknown queryId: not one this service issued");
    }
    if (!MessageDigest.isEqual(given, mac(body))) {
      throw new RejectedClick("unknown queryId: not one this service issued");
    }
    if (nowMs - issuedAt > policy.window().toMillis()) {
      throw new RejectedClick("queryId expired: clicks are taken for " + policy.window().toMinutes()
          + " minutes after the search");
    }
    List<String> results;
    synchronized (shown) {
      results = shown.get(queryId);
    }
    if (results == null) {
      return; // issued by another replica, or forgotten: signature and age are all that can be checked here
    }
    if (rank > results.size()) {
      throw new RejectedClick("rank " + rank + " is out of range: the search showed " + results.size()
          + " results");
    }
    if (!results.get(rank - 1).equals(passageId)) {
      throw new RejectedClick("passage " + passageId + " was not shown at rank " + rank + " for this query");
    }
  }

  private byte[] mac(String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return Arrays.copyOf(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)), MAC_BYTES);
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }

  private static byte[] randomKey() {
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    return k;
  }
}
