package io.d2search.eval;

import io.d2search.embed.Embedder;
import io.d2search.rank.IemHead;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Scores a batch of sentence pairs; higher means more similar (or, for NLI, more likely entailed). The same
 * evaluation ({@link SymmetricEvaluation}) runs for any scorer: bi-encoder cosine, the student's IEM, a teacher.
 */
@FunctionalInterface
public interface PairScorer {

  /**
   * Scores of the pairs {@code (a[i], b[i])}.
   *
   * @param a first sentences (STS sentence1, NLI premise)
   * @param b second sentences (STS sentence2, NLI hypothesis), as many as {@code a}
   * @return a new array, {@code scores[i]} the score of pair i
   * @throws IllegalArgumentException if the lists differ in length
   */
  double[] score(List<String> a, List<String> b);

  /** Cosine similarity of the embedder's vectors: the bi-encoder baseline. */
  static PairScorer cosine(Embedder embedder) {
    Objects.requireNonNull(embedder, "embedder");
    return cosine(embedder::embed);
  }

  /**
   * Cosine similarity of the vectors an encoder gives. Computed as a true cosine (divided by both norms), so it
   * does not rely on the encoder returning unit vectors ({@link Embedder} does, up to float rounding); a zero
   * vector scores 0.
   *
   * @param encoder texts → vectors of equal length, in input order
   */
  static PairScorer cosine(Function<List<String>, List<float[]>> encoder) {
    Objects.requireNonNull(encoder, "encoder");
    return (a, b) -> {
      PairVectors v = PairVectors.encode(encoder, a, b);
      double[] scores = new double[a.size()];
      for (int i = 0; i < scores.length; i++) {
        scores[i] = PairVectors.cosine(v.first(i), v.second(i));
      }
      return scores;
    };
  }

  /**
   * The student's IEM logit on its symmetric branch ({@code proj0}), with the first sentence as IEM's {@code q} and
   * the second as {@code p}, on the student's own (PMA) embeddings.
   *
   * @param student the student bundle's embedder ({@code ModelBundle#embedder}), whose vectors the IEM was trained on
   * @param iem the bundle's IEM head ({@code ModelBundle#iem})
   */
  static PairScorer iemSymmetric(Embedder student, IemHead iem) {
    Objects.requireNonNull(student, "student");
    return iemSymmetric(student::embed, iem);
  }

  /**
   * The IEM logit on its symmetric branch for vectors from any encoder (first sentence as {@code q}).
   *
   * @param encoder texts → unit vectors of the IEM's dimension, in input order
   */
  static PairScorer iemSymmetric(Function<List<String>, List<float[]>> encoder, IemHead iem) {
    Objects.requireNonNull(encoder, "encoder");
    Objects.requireNonNull(iem, "iem");
    return (a, b) -> {
      PairVectors v = PairVectors.encode(encoder, a, b);
      double[] scores = new double[a.size()];
      for (int i = 0; i < scores.length; i++) {
        scores[i] = iem.logit(v.first(i), v.second(i), IemHead.Branch.SYMMETRIC);
      }
      return scores;
    };
  }
}
