package io.d2search.loop;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/**
 * Which feedback queries a refresh never trains on: a query is held out when the hash of its normalised text falls
 * in the first {@code fraction} of the hash space. The rule depends on the text alone, so a query held out once is
 * held out in every refresh, whoever searched it and whatever the model; the gate's slice is never seen by training
 * nor by early stopping. A second salt cuts the validation slice (early stopping) out of the rest the same way.
 *
 * <p>Immutable and thread-safe.
 *
 * @param salt names the slice; different salts cut independent slices
 * @param fraction the share of queries in the slice, in [0, 1)
 */
public record HeldOutRule(String salt, double fraction) {
  /** The gate's slice. */
  public static final String GATE = "gate";
  /** The early-stopping slice, cut from what the gate leaves. */
  public static final String VALIDATION = "validation";

  public HeldOutRule {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new IllegalArgumentException("a held-out fraction must be in [0, 1): " + fraction);
    }
  }

  /** Whether the query is in this slice. */
  public boolean contains(String query) {
    String key = salt + '\0' + query.strip().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
    byte[] h;
    try {
      h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
    long top = ((h[0] & 0xFFL) << 24) | ((h[1] & 0xFFL) << 16) | ((h[2] & 0xFFL) << 8) | (h[3] & 0xFFL);
    return top < fraction * (1L << 32);
  }
}
