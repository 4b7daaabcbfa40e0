package io.d2search.index;

import io.d2search.embed.TextHash;
import io.d2search.events.PassageEmbedding;
import java.util.ArrayList;
import java.util.List;

/** Builds {@link PassageEmbedding} records for tests. */
public final class Embeddings {
  private Embeddings() {}

  /** An embedding of {@code text} for passage {@code docId#n} with the given vector. */
  public static PassageEmbedding of(String docId, int n, String modelVersion, float[] vector, String text) {
    List<Float> values = new ArrayList<>(vector.length);
    for (float x : vector) {
      values.add(x);
    }
    return PassageEmbedding.newBuilder()
        .setDocId(docId)
        .setN(n)
        .setModelVersion(modelVersion)
        .setVector(values)
        .setTextHash(TextHash.sha256(text))
        .setTitle("title of " + docId)
        .setText(text)
        .setDocVersion(1)
        .setUrl("https://example.org/" + docId)
        .build();
  }
}
