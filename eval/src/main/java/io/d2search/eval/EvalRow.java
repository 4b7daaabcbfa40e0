package io.d2search.eval;

/**
 * Mean metrics of one system over a query set.
 *
 * @param system row label
 * @param ndcg10 mean nDCG@10
 * @param recall100 mean Recall@100
 * @param mrr10 mean MRR@10
 * @param msPerQuery mean wall time per query, query embedding included
 * @param queries number of queries averaged
 */
public record EvalRow(String system, double ndcg10, double recall100, double mrr10, double msPerQuery, int queries) {}
