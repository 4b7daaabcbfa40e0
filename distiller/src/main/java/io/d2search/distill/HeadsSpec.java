package io.d2search.distill;

import io.d2search.rank.IemHead;

/**
 * The architecture of a student's heads.
 *
 * @param dimension backbone dimension {@code d} (384 for MiniLM)
 * @param heads PMA attention heads {@code h}, dividing {@code d} (default 8)
 * @param iemInput what the IEM reads, or {@code null} for heads without an IEM (PMA only)
 * @param iemHidden IEM hidden and feature width (512 in the contract; smaller only in tests)
 */
public record HeadsSpec(int dimension, int heads, IemHead.Input iemInput, int iemHidden) {
  public HeadsSpec {
    if (dimension < 1 || heads < 1 || dimension % heads != 0) {
      throw new IllegalArgumentException("heads (" + heads + ") must divide dimension (" + dimension + ")");
    }
    if (iemHidden < 1) {
      throw new IllegalArgumentException("iemHidden must be >= 1: " + iemHidden);
    }
  }

  /** d-dimensional PMA with {@code heads} heads and a 512-wide IEM over {@code input}. */
  public static HeadsSpec of(int dimension, int heads, IemHead.Input input) {
    return new HeadsSpec(dimension, heads, input, IemBlock.DEFAULT_HIDDEN);
  }

  /** Whether the heads include an IEM. */
  public boolean hasIem() {
    return iemInput != null;
  }
}
