package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.d2search.data.BeirDataset;
import io.d2search.ingest.CorpusDocument;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** Pseudo-queries are drawn as {@code distill} has always drawn them, and described as manifests record them. */
class PseudoQueriesTest {

  @Test
  void aSentencePseudoQueryIsTheLastSentenceOfAllowedLength() {
    String text = "Background is short. We measured the effect of vitamin D on bone density in 300 adults. "
        + "Conclusion: vitamin D supplements raise bone density in older adults. Funded by X.";
    assertThat(PseudoQueries.lastSentence(text, 8, 40))
        .isEqualTo("Conclusion: vitamin D supplements raise bone density in older adults.");
    assertThat(PseudoQueries.lastSentence(text, 12, 40))
        .isEqualTo("We measured the effect of vitamin D on bone density in 300 adults.");
    assertThat(PseudoQueries.lastSentence("Too short. Also short.", 8, 40)).isNull();
    assertThat(PseudoQueries.lastSentence("", 8, 40)).isNull();
  }

  /** The same queries, ids and order as the command's own draw before it moved here (kept below as reference). */
  @RepeatedTest(20)
  void drawsWhatDistillDrew() {
    long testSeed = new Random().nextLong();
    Random r = new Random(testSeed);
    BeirDataset data = corpus(r, 1 + r.nextInt(80));
    long seed = r.nextLong();
    int n = r.nextInt(40);
    // Two draws may name one document: a set of one (Set.of refused duplicates, a test bug seen in CI).
    Set<String> excluded = new java.util.HashSet<>(List.of("d" + r.nextInt(80), "d" + r.nextInt(80)));
    for (PseudoQueries.Kind kind : PseudoQueries.Kind.values()) {
      List<JudgedQuery> drawn = new PseudoQueries(n, kind, PseudoQueries.Positive.OWN).draw(data, seed, excluded);
      List<JudgedQuery> before = kind == PseudoQueries.Kind.TITLE
          ? reference(data, n, seed, excluded, "title", d -> d.title() != null && d.title().strip().length() >= 8
              && !d.text().isBlank(), d -> d.title().strip())
          : reference(data, n, seed, excluded, "sentence", d -> true, d -> PseudoQueries.lastSentence(d.text(), 8, 40));
      assertThat(drawn).as("test seed %d, %s", testSeed, kind).isEqualTo(before);
      assertThat(drawn).hasSizeLessThanOrEqualTo(n).allSatisfy(q -> {
        assertThat(q.id()).isEqualTo(kind.id() + ":" + q.positives().getFirst());
        assertThat(excluded).doesNotContain(q.positives().getFirst());
      });
    }
  }

  @Test
  void namesAndDescriptionsAreTheOptionsAndTheManifestsWords() {
    assertThat(PseudoQueries.Kind.fromId("title")).isEqualTo(PseudoQueries.Kind.TITLE);
    assertThat(PseudoQueries.Kind.fromId("sentence").description()).isEqualTo("last sentence of 8-40 words");
    assertThat(PseudoQueries.Kind.TITLE.description()).isEqualTo("document title");
    assertThat(PseudoQueries.Positive.fromId("own").description()).isEqualTo("its document");
    assertThat(PseudoQueries.Positive.fromId("teacher").description())
        .isEqualTo("the teacher's best of K + 1 mined, its document left out");
    assertThatThrownBy(() -> PseudoQueries.Kind.fromId("Title")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--pseudo-query-kind must be title or sentence: Title");
    assertThatThrownBy(() -> PseudoQueries.Positive.fromId("best")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--pseudo-positive must be own or teacher: best");
    assertThatThrownBy(() -> new PseudoQueries(-1, PseudoQueries.Kind.TITLE, PseudoQueries.Positive.OWN))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(PseudoQueries.none().count()).isZero();
  }

  /** Documents with short, long, blank or missing-looking titles and texts of one to several sentences. */
  private static BeirDataset corpus(Random r, int n) {
    String[] sentences = {"Short one.", "We measured the effect of vitamin D on bone density in 300 adults.",
        "Conclusion: vitamin D supplements raise bone density in older adults.", "Funded by X.",
        "Mice lacking the gene developed tumours earlier than their littermates did in every cohort."};
    Map<String, CorpusDocument> docs = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      StringBuilder text = new StringBuilder();
      for (int s = 0, m = r.nextInt(4); s < m; s++) {
        text.append(sentences[r.nextInt(sentences.length)]).append(' ');
      }
      String title = switch (r.nextInt(4)) {
        case 0 -> "";
        case 1 -> " Short ";
        default -> "A title of document " + i;
      };
      docs.put("d" + i, new CorpusDocument("d" + i, title, text.toString(), null));
    }
    return new BeirDataset(docs, Map.of(), Map.of());
  }

  /** {@code DistillCommand.pseudoQueries} as it was before the pipeline moved to the distiller. */
  private static List<JudgedQuery> reference(BeirDataset data, int n, long seed, Set<String> excluded, String kind,
      Predicate<CorpusDocument> eligible, Function<CorpusDocument, String> queryOf) {
    List<CorpusDocument> docs = new ArrayList<>(data.corpus().values().stream().filter(eligible)
        .filter(d -> !excluded.contains(d.id())).toList());
    Collections.shuffle(docs, new Random(seed ^ 0x9E3779B97F4A7C15L));
    List<JudgedQuery> out = new ArrayList<>();
    for (CorpusDocument d : docs) {
      if (out.size() == n) {
        break;
      }
      String query = queryOf.apply(d);
      if (query != null) {
        out.add(new JudgedQuery(kind + ":" + d.id(), query, List.of(d.id())));
      }
    }
    return out;
  }
}
