package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.eval.Retriever;
import io.d2search.eval.ScoredDoc;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class NegativeMinerTest {

  /** A retriever whose ranking is given: the miner only reads ranked ids. */
  private record Ranked(List<String> ids) implements Retriever {
    @Override
    public String name() {
      return "ranked";
    }

    @Override
    public List<ScoredDoc> search(String query, int k) {
      List<ScoredDoc> out = new ArrayList<>();
      for (int i = 0; i < Math.min(k, ids.size()); i++) {
        out.add(new ScoredDoc(ids.get(i), -i));
      }
      return out;
    }
  }

  /**
   * A random set-up over 150 documents: both retrievers' rankings, up to 3 excluded documents from the index's top,
   * and the miner's parameters (depth at least the index negatives).
   */
  private record Drawn(List<String> dense, List<String> lexical, Set<String> excluded, int fromDense, int k,
      int depth) {
    static Drawn of(Random r) {
      List<String> dense = shuffledCorpus(150, r);
      List<String> lexical = shuffledCorpus(150, r);
      int fromDense = 1 + r.nextInt(12);
      return new Drawn(dense, lexical, new HashSet<>(dense.subList(0, r.nextInt(4))), fromDense,
          fromDense + r.nextInt(5), fromDense + r.nextInt(100));
    }

    NegativeMiner miner() {
      return new NegativeMiner(new Ranked(dense), new Ranked(lexical), k, fromDense, depth);
    }
  }

  /** Documents d0..d(n−1) in a random order: one retriever's ranking. */
  private static List<String> shuffledCorpus(int n, Random r) {
    List<String> corpus = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      corpus.add("d" + i);
    }
    Collections.shuffle(corpus, r);
    return corpus;
  }

  @Test
  void takesIndexNegativesFirstThenBm25SkippingPositivesAndDuplicates() {
    NegativeMiner miner = new NegativeMiner(new Ranked(List.of("p", "a", "b", "c", "d", "e")),
        new Ranked(List.of("a", "p", "x", "y", "z")), 5, 2);
    assertThat(miner.mine("q", Set.of("p"))).containsExactly("a", "b", "x", "y", "z");
  }

  @Test
  void topsUpFromTheIndexWhenBm25RunsShort() {
    NegativeMiner miner = new NegativeMiner(new Ranked(List.of("a", "b", "c", "d")), new Ranked(List.of("b")), 4, 1);
    assertThat(miner.mine("q", Set.of())).containsExactly("a", "b", "c", "d");
  }

  @Test
  void refusesACorpusTooSmallForK() {
    NegativeMiner miner = new NegativeMiner(new Ranked(List.of("p", "a")), null, 2, 2);
    assertThatThrownBy(() -> miner.mine("q", Set.of("p"))).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("only 1 negatives");
  }

  @RepeatedTest(20)
  void alwaysKDistinctNonPositivesFromTheTwoLists() {
    Random r = new Random();
    List<String> dense = shuffledCorpus(40, r);
    List<String> lexical = shuffledCorpus(40, r);
    Set<String> positives = new HashSet<>(dense.subList(0, r.nextInt(4)));
    int k = 1 + r.nextInt(10);
    int fromDense = r.nextInt(k + 1);
    List<String> got = new NegativeMiner(new Ranked(dense), new Ranked(lexical), k, fromDense).mine("q", positives);
    assertThat(got).hasSize(k).doesNotHaveDuplicates().noneMatch(positives::contains);
    List<String> denseNonPositive = dense.stream().filter(d -> !positives.contains(d)).toList();
    assertThat(got.subList(0, fromDense)).isEqualTo(denseNonPositive.subList(0, fromDense));
  }

  @RepeatedTest(20)
  void aDepthSpreadsTheIndexNegativesOnePerStratumAndRepeatsForTheSameQuery() {
    Random r = new Random();
    Drawn drawn = Drawn.of(r);
    List<String> dense = drawn.dense();
    Set<String> positives = drawn.excluded();
    int fromDense = drawn.fromDense();
    int k = drawn.k();
    int depth = drawn.depth();
    NegativeMiner miner = drawn.miner();
    String query = "q" + r.nextInt();
    List<String> got = miner.mine(query, positives);

    assertThat(got).hasSize(k).doesNotHaveDuplicates().noneMatch(positives::contains);
    assertThat(miner.mine(query, positives)).isEqualTo(got);
    List<String> ranked = dense.stream().filter(d -> !positives.contains(d)).toList();
    for (int s = 0; s < fromDense; s++) {
      int rank = ranked.indexOf(got.get(s));
      assertThat(rank).as("stratum %d of %d over depth %d", s, fromDense, depth)
          .isBetween(s * depth / fromDense, (s + 1) * depth / fromDense - 1);
    }
  }

  @Test
  void aDepthEqualToTheIndexNegativesTakesTheTopOnes() {
    List<String> dense = List.of("p", "a", "b", "c", "d", "e");
    NegativeMiner miner = new NegativeMiner(new Ranked(dense), new Ranked(List.of("x", "y")), 4, 3, 3);
    assertThat(miner.mine("q", Set.of("p"))).containsExactly("a", "b", "c", "x");
    assertThatThrownBy(() -> new NegativeMiner(new Ranked(dense), null, 4, 3, 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("depth 2");
  }

  @RepeatedTest(20)
  void aWidenedMinerAddsIndexCandidatesAcrossTheSameDepth() {
    Random r = new Random();
    Drawn drawn = Drawn.of(r);
    List<String> dense = drawn.dense();
    List<String> lexical = drawn.lexical();
    Set<String> excluded = drawn.excluded();
    int fromDense = drawn.fromDense();
    int k = drawn.k();
    int depth = drawn.depth();
    int more = r.nextInt(3);
    NegativeMiner wide = drawn.miner().widened(more);
    List<String> got = wide.mine("q" + r.nextInt(), excluded);

    assertThat(wide.k()).isEqualTo(k + more);
    assertThat(got).hasSize(k + more).doesNotHaveDuplicates().noneMatch(excluded::contains);
    List<String> ranked = dense.stream().filter(d -> !excluded.contains(d)).toList();
    int wideDepth = Math.max(depth, fromDense + more); // never fewer ranks than index candidates
    assertThat(got.subList(0, fromDense + more)).as("from the index's top %d", wideDepth)
        .allMatch(id -> ranked.indexOf(id) < wideDepth);
    List<String> bm25 = lexical.stream().filter(d -> !excluded.contains(d) && !got.subList(0, fromDense + more)
        .contains(d)).toList();
    assertThat(got.subList(fromDense + more, k + more)).isEqualTo(bm25.subList(0, k - fromDense));
    assertThatThrownBy(() -> wide.widened(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
