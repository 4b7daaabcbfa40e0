package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.d2search.bundle.HeadTensors;
import io.d2search.bundle.Tensor;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.eval.EvalPassage;
import io.d2search.eval.HnswDenseRetriever;
import io.d2search.data.PassageVectors;
import io.d2search.rank.IemHead;
import io.d2search.rank.IemHead.Input;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The held-out re-rank selection over a real MiniLM index: a cosine-start IEM re-ranks into the HNSW order, an IEM
 * scoring −cosine reverses it, and the cost is minus the nDCG.
 */
class RerankSelectionTest {
  private static final List<String> TOPICS = List.of("vitamin D and bone density", "chess openings for beginners",
      "volcanic eruptions in Iceland", "the immune response to influenza", "tax policy and inflation",
      "migratory birds in winter", "protein folding in the cell", "electric guitars and amplifiers");

  @Test
  void theCosineStartKeepsTheHnswOrderAndItsNegationIsWorse() throws Exception {
    try (Embedder embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      List<EvalPassage> docs = new ArrayList<>();
      for (int t = 0; t < TOPICS.size(); t++) {
        for (int v = 0; v < 4; v++) {
          docs.add(new EvalPassage("d" + t + "-" + v + "#0", "d" + t + "-" + v, 0, "", "Notes " + v + " on " + TOPICS.get(t)
              + (v % 2 == 0 ? ", with a long digression on unrelated matters" : "") + "."));
        }
      }
      float[][] vectors = PassageVectors.embed(embedder, EvalPassage.texts(docs), null, "test corpus");
      Map<String, float[]> vectorOf = new HashMap<>();
      for (int i = 0; i < docs.size(); i++) {
        vectorOf.put(docs.get(i).docId(), vectors[i]);
      }
      List<JudgedQuery> heldOut = new ArrayList<>();
      for (int t = 0; t < TOPICS.size(); t++) {
        heldOut.add(new JudgedQuery("q" + t, "what is known about " + TOPICS.get(t), List.of("d" + t + "-1")));
      }
      try (HnswDenseRetriever index = HnswDenseRetriever.build("test", embedder, docs, vectors, 16, 100)) {
        RerankSelection selection = RerankSelection.of(heldOut, index, vectorOf, 20, Input.INTERACTION);
        HeadsSpec spec = HeadsSpec.of(embedder.info().dimension(), 8, Input.INTERACTION);
        Map<String, Tensor> cosine = StudentHeads.initialTensors(spec, 3, IemInit.COSINE);
        double hnsw = selection.hnswNdcg();
        assertThat(hnsw).isGreaterThan(0.3);
        assertThat(selection.ndcg(HeadTensors.iem(cosine, Input.INTERACTION))).isCloseTo(hnsw, within(1e-9));

        Map<String, Tensor> negated = new LinkedHashMap<>(cosine);
        float[] out = cosine.get(IemBlock.OUT_WEIGHT).data();
        for (int i = 0; i < out.length; i++) {
          out[i] = -out[i];
        }
        negated.put(IemBlock.OUT_WEIGHT, new Tensor(cosine.get(IemBlock.OUT_WEIGHT).shape(), out));
        IemHead reversing = HeadTensors.iem(negated, Input.INTERACTION);
        assertThat(selection.ndcg(reversing)).isLessThan(hnsw);

        try (ai.djl.ndarray.NDManager m = Djl.manager(); StudentHeads heads = StudentHeads.fromTensors(m, cosine, 8, Input.INTERACTION)) {
          assertThat(selection.cost(heads, 123.0)).isCloseTo(-hnsw, within(1e-9));
        }
      }
    }
  }
}
