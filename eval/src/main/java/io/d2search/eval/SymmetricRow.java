package io.d2search.eval;

/**
 * Symmetric-task metrics of one system.
 *
 * @param system row label
 * @param stsSpearman Spearman's ρ between scores and gold similarity on STS-B test
 * @param stsPairs STS-B pairs scored
 * @param snliAccuracy entailment-vs-not accuracy on SNLI test, with the threshold chosen on SNLI dev
 * @param snliThreshold that threshold (a pair is "entailment" when its score is above it)
 * @param snliDevAccuracy accuracy of the threshold on SNLI dev, where it was chosen (optimistic by construction)
 * @param snliPairs SNLI test pairs classified
 * @param msPerPair mean scorer wall time per pair over every pair scored (STS-B test, SNLI dev and test)
 */
public record SymmetricRow(String system, double stsSpearman, int stsPairs, double snliAccuracy, double snliThreshold,
    double snliDevAccuracy, int snliPairs, double msPerPair) {}
