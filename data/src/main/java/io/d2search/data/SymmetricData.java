package io.d2search.data;

import java.nio.file.Path;
import java.util.List;

/**
 * The held-out data of the symmetric evaluation, loaded once and shared by every scorer.
 *
 * @param stsTest STS-B test pairs (Spearman's ρ is measured on these)
 * @param snliDev SNLI dev pairs (only the decision threshold is chosen on these)
 * @param snliTest SNLI test pairs (accuracy is measured on these)
 */
public record SymmetricData(List<StsBenchmark.Pair> stsTest, List<Snli.Pair> snliDev, List<Snli.Pair> snliTest) {
  public SymmetricData {
    stsTest = List.copyOf(stsTest);
    snliDev = List.copyOf(snliDev);
    snliTest = List.copyOf(snliTest);
  }

  /**
   * STS-B test, SNLI dev and SNLI test from the data directory (the lab.data-dir setting, e.g. SciFact's parent).
   *
   * @throws IllegalArgumentException if a file is missing
   */
  public static SymmetricData load(Path sharedData) {
    return new SymmetricData(
        StsBenchmark.load(StsBenchmark.file(sharedData), StsBenchmark.Split.TEST),
        Snli.load(Snli.file(sharedData, Snli.Split.DEV)),
        Snli.load(Snli.file(sharedData, Snli.Split.TEST)));
  }
}
