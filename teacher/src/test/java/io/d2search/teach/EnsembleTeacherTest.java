package io.d2search.teach;

import io.d2search.ingest.CorpusDocument;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.embed.EmbedText;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.data.BeirDataset;
import io.d2search.eval.Bm25Retriever;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.RankingMetrics;
import io.d2search.eval.ScoredDoc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The default ensemble with the real models on a slice of SciFact test: 8 queries, each scoring its judged
 * documents among BM25's top hits over the whole corpus (hard distractors) and random documents. Small enough for
 * CI; the full measurement (re-ranking MiniLM's top 100 for all 300 test queries) is {@link TeacherBench}.
 */
class EnsembleTeacherTest {
  static final int QUERIES = 8;
  static final int DISTRACTORS = 6;
  static final int RANDOM = 6;

  @Test
  void theEnsembleRanksJudgedDocumentsHighAndAtLeastMatchesMiniLm() throws Exception {
    Path scifact = Path.of(System.getProperty("d2search.sharedData", "../shared/data")).resolve("scifact");
    Assumptions.assumeTrue(Files.isDirectory(scifact), "no ../shared/data/scifact");
    BeirDataset data = BeirDataset.load(scifact, "test");
    Map<String, String> queries = new LinkedHashMap<>();
    data.queries().entrySet().stream().limit(QUERIES).forEach(e -> queries.put(e.getKey(), e.getValue()));
    // Candidates per query: its judged documents and BM25's top hits over the whole corpus.
    Map<String, List<String>> candidates = new LinkedHashMap<>();
    Set<String> randomDocs = new HashSet<>();
    List<String> allIds = new ArrayList<>(data.corpus().keySet());
    Random random = new Random(7);
    try (Bm25Retriever bm25 = new Bm25Retriever(EvalPassage.wholeDocs(data))) {
      for (Map.Entry<String, String> q : queries.entrySet()) {
        List<String> ids = new ArrayList<>(data.qrels().get(q.getKey()).keySet());
        bm25.search(q.getValue(), DISTRACTORS + ids.size()).stream().map(ScoredDoc::docId)
            .filter(id -> !ids.contains(id)).limit(DISTRACTORS).forEach(ids::add);
        while (ids.size() < data.qrels().get(q.getKey()).size() + DISTRACTORS + RANDOM) {
          String id = allIds.get(random.nextInt(allIds.size()));
          if (!ids.contains(id)) {
            ids.add(id);
            randomDocs.add(q.getKey() + "\t" + id);
          }
        }
        candidates.put(q.getKey(), ids);
      }
    }
    List<String> sliceTexts = candidates.values().stream().flatMap(List::stream).distinct()
        .map(id -> text(data, id)).toList();

    double ensembleNdcg = 0;
    double miniNdcg = 0;
    double judgedProb = 0;
    double otherProb = 0;
    int judged = 0;
    int others = 0;
    int aboveRandom = 0;
    int pairsWithRandom = 0;
    EnsembleConfig config = EnsembleConfig.defaults().withProvider(ExecutionProvider.CPU);
    try (EnsembleTeacher teacher = EnsembleTeacher.create(config, Bm25.statistics(
        data.corpus().values().stream().map(d -> EmbedText.of(d.title(), d.text())).toList()), null);
        Embedder minilm = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      assertThat(teacher.id()).contains("bge-small-en-v1.5@sha256-").contains("/cls/").contains("e5-small-v2@")
          .contains("/mean/").contains(":bm25@").contains(":norm=global(");
      assertThat(teacher.featureNames()).containsExactly("bge-small-en-v1.5", "e5-small-v2", "bm25");
      for (Map.Entry<String, String> q : queries.entrySet()) {
        List<String> ids = candidates.get(q.getKey());
        List<String> texts = ids.stream().map(id -> text(data, id)).toList();
        EnsembleTeacher.Scores s = teacher.scoreDetailed(q.getValue(), texts);
        assertThat(java.util.Arrays.stream(s.probabilities()).boxed().toList()).allSatisfy(p -> assertThat(p).isBetween(0.0, 1.0));
        assertThat(teacher.score(q.getValue(), texts)).containsExactly(s.probabilities());
        double[][] features = teacher.features(q.getValue(), texts);
        assertThat(features).hasDimensions(texts.size(), 3);
        assertThat(features[0][2]).isEqualTo(s.z()[2][0]);

        float[] qv = minilm.embed(q.getValue());
        List<float[]> dv = minilm.embed(texts);
        double[] mini = dv.stream().mapToDouble(v -> dot(qv, v)).toArray();
        Map<String, Integer> rel = data.qrels().get(q.getKey());
        ensembleNdcg += RankingMetrics.ndcg(rank(ids, s.fused()), rel, 10);
        miniNdcg += RankingMetrics.ndcg(rank(ids, mini), rel, 10);
        for (int i = 0; i < ids.size(); i++) {
          if (rel.getOrDefault(ids.get(i), 0) > 0) {
            judgedProb += s.probabilities()[i];
            judged++;
            for (int j = 0; j < ids.size(); j++) {
              if (randomDocs.contains(q.getKey() + "\t" + ids.get(j))) {
                pairsWithRandom++;
                aboveRandom += s.probabilities()[i] > s.probabilities()[j] ? 1 : 0;
              }
            }
          } else {
            otherProb += s.probabilities()[i];
            others++;
          }
        }
      }
      // Scores follow their passage: reversing the candidates reverses the scores.
      String q0 = queries.values().iterator().next();
      List<String> texts = candidates.values().iterator().next().stream().map(id -> text(data, id)).toList();
      double[] forward = teacher.score(q0, texts);
      double[] backward = teacher.score(q0, texts.reversed());
      for (int i = 0; i < forward.length; i++) {
        assertThat(backward[forward.length - 1 - i]).isCloseTo(forward[i], within(1e-9));
      }
      // GLOBAL normalisation is pointwise: a passage alone scores as it does among the others.
      assertThat(teacher.score(q0, List.of(texts.get(0)))[0]).isCloseTo(forward[0], within(1e-9));
    }
    ensembleNdcg /= QUERIES;
    miniNdcg /= QUERIES;
    double auc = (double) aboveRandom / pairsWithRandom;
    System.out.printf("slice of %d queries, %d distinct documents: nDCG@10 ensemble %.4f, MiniLM %.4f; mean "
        + "P(relevant) %.4f judged vs %.4f others; judged above random in %.3f of pairs%n", QUERIES,
        sliceTexts.size(), ensembleNdcg, miniNdcg, judgedProb / judged, otherProb / others, auc);
    // Eight queries are too few to rank two good systems reliably (on all 300 test queries the ensemble beats
    // MiniLM by 0.085 nDCG@10, see TeacherBench); here it must rank judged documents well and above random ones.
    assertThat(ensembleNdcg).isGreaterThan(0.6);
    assertThat(auc).isGreaterThan(0.95);
    assertThat(judgedProb / judged).isGreaterThan(3 * otherProb / others);
  }

  private static String text(BeirDataset data, String id) {
    CorpusDocument d = data.corpus().get(id);
    return EmbedText.of(d.title(), d.text());
  }

  private static List<String> rank(List<String> ids, double[] scores) {
    return IntStream.range(0, ids.size()).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparing(ids::get))
        .map(ids::get).toList();
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }
}
