package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.bundle.ModelBundle;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.index.IndexConfig;
import io.d2search.index.VectorEncoding;
import io.d2search.serve.SearchConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexBenchTest {
  @TempDir Path dir;

  @Test
  void clusteredVectorsAreUnitLengthDeterministicAndCloserWithinATopic() {
    ClusteredVectors vectors = new ClusteredVectors(384, 20, 7);
    assertThat(new ClusteredVectors(384, 20, 7).passage(5)).containsExactly(vectors.passage(5));
    assertThat(vectors.replacement(5, 1)).isNotEqualTo(vectors.passage(5));
    double nearestSum = 0;
    double allSum = 0;
    int n = 400;
    float[][] v = new float[n][];
    for (int i = 0; i < n; i++) {
      v[i] = vectors.passage(i);
      double norm = dot(v[i], v[i]);
      assertThat(norm).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    }
    for (int i = 0; i < n; i++) {
      double nearest = -1;
      for (int j = 0; j < n; j++) {
        if (i != j) {
          double c = dot(v[i], v[j]);
          nearest = Math.max(nearest, c);
          allSum += c;
        }
      }
      nearestSum += nearest;
    }
    double meanNearest = nearestSum / n;
    double meanAll = allSum / ((double) n * (n - 1));
    // Like a sentence encoder's: unrelated passages around 0.1, a passage's nearest neighbour well above.
    assertThat(meanAll).isBetween(0.0, 0.3);
    assertThat(meanNearest).isGreaterThan(meanAll + 0.3);
  }

  @Test
  void measuresEveryEncodingAgainstExactSearchWithFloat32AsTheBaseline() {
    IndexBench.Plan plan = new IndexBench.Plan(3000, 64, 30, 40,
        List.of(VectorEncoding.BBQ, VectorEncoding.FLOAT32, VectorEncoding.INT8), 3, 0.1, 10, 50, 16,
        IndexConfig.defaults(), dir, 3);
    IndexBench.Report report = new IndexBench(plan).run();
    assertThat(report.rows()).extracting(IndexBench.Row::encoding)
        .containsExactly(VectorEncoding.FLOAT32, VectorEncoding.BBQ, VectorEncoding.INT8);
    for (IndexBench.Row row : report.rows()) {
      assertThat(row.recall()).as(row.encoding() + " recall").isGreaterThanOrEqualTo(0.9);
      assertThat(row.churnRecall()).as(row.encoding() + " recall after churn").isGreaterThanOrEqualTo(0.9);
      assertThat(row.total().p99()).isGreaterThanOrEqualTo(row.total().p50()).isPositive();
      assertThat(row.iem().p50()).isPositive();
      assertThat(row.diskBytes()).isGreaterThan((long) 3000 * 64 * Float.BYTES);
    }
    IndexBench.Row float32 = report.rows().get(0);
    IndexBench.Row bbq = report.rows().get(1);
    IndexBench.Row int8 = report.rows().get(2);
    // What searches keep in memory shrinks with the bits per dimension; the floats stay on disk for re-scoring.
    assertThat(bbq.searchedBytes()).isLessThan(int8.searchedBytes());
    assertThat(int8.searchedBytes()).isLessThan(float32.searchedBytes());
    assertThat(bbq.diskBytes()).isGreaterThan(float32.diskBytes());
    String table = report.markdown();
    assertThat(table).contains("| float32 |", "| bbq |", "| int8 |", "×1.00", "Exact scan");
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void measuresTheServingPathInProcessAndOverHttpWithRealQueryEmbeddings() {
    ModelBundle zero = ModelBundle.versionZero(dir.resolve("bundles"), BackboneSource.MINILM_L6_V2, 256);
    try (Embedder embedder = zero.embedder(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU))) {
      IndexBench.Plan plan = new IndexBench.Plan(1000, embedder.info().dimension(), 100, 20,
          List.of(VectorEncoding.INT4), 3, 0.1, 10, 50, 16, IndexConfig.defaults(), dir.resolve("work"), 5);
      IndexBench.Report report = new IndexBench(plan, new IndexBench.Serving(embedder,
          List.of("how do cells divide", "vitamin d and bone density", "gene expression in yeast"),
          SearchConfig.DEFAULTS)).run();
      IndexBench.Served served = report.rows().get(0).served();
      assertThat(served).isNotNull();
      assertThat(served.inProcess().p50()).isPositive();
      assertThat(served.overHttp().p50()).isPositive();
      assertThat(served.mode()).isEqualTo(SearchConfig.DEFAULTS.mode().label());
      // The service's own stage timers: the query was embedded, searched, re-ranked and its fields loaded.
      assertThat(served.stages()).contains("tokenize", "encode", "pool", "vector", "read", "rerank", "stored");
      assertThat(report.markdown()).contains("Served (mode", "| int4 |", "Where a served search's time goes");
    }
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
