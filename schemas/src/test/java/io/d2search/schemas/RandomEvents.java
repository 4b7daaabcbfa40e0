package io.d2search.schemas;

import io.d2search.events.Click;
import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import io.d2search.events.ExampleSource;
import io.d2search.events.Impression;
import io.d2search.events.ModelRelease;
import io.d2search.events.Negative;
import io.d2search.events.Passage;
import io.d2search.events.PassageEmbedding;
import io.d2search.events.RankedPassage;
import io.d2search.events.ReleaseKind;
import io.d2search.events.ReleaseStage;
import io.d2search.events.TrainingExample;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Random events of every type, from one seeded {@link Random}: strings mix ASCII, accented letters, CJK and emoji
 * (surrogate pairs) and may be empty; optional fields are null half of the time; numbers cover their full range.
 */
final class RandomEvents {
  /** Code point ranges strings are drawn from; all valid scalar values, so UTF-8 round trips exactly. */
  private static final int[][] CODE_POINTS = {
    {0x20, 0x7E}, {0x20, 0x7E}, {0x20, 0x7E}, {0xC0, 0x17F}, {0x4E00, 0x9FFF}, {0x1F600, 0x1F64F}, {0x0, 0x1F},
  };

  private final Random random;

  RandomEvents(Random random) {
    this.random = random;
  }

  DocumentEvent documentEvent() {
    return DocumentEvent.newBuilder()
        .setId(id())
        .setOp(pick(DocumentOp.values()))
        .setTitle(maybe(this::text))
        .setBody(maybe(this::text))
        .setUrl(maybe(this::text))
        .setVersion(random.nextLong())
        .setTs(instant())
        .setAttributes(stringMap())
        .build();
  }

  Passage passage() {
    return Passage.newBuilder()
        .setDocId(id())
        .setN(random.nextInt(Integer.MAX_VALUE))
        .setTitle(maybe(this::text))
        .setText(text())
        .setDocVersion(random.nextLong())
        .setUrl(maybe(this::text))
        .setAttributes(stringMap())
        .build();
  }

  PassageEmbedding passageEmbedding() {
    List<Float> vector = new ArrayList<>();
    int dim = random.nextInt(400);
    for (int i = 0; i < dim; i++) {
      vector.add(random.nextInt(20) == 0 ? extremeFloat() : (float) random.nextGaussian());
    }
    return PassageEmbedding.newBuilder()
        .setDocId(id())
        .setN(random.nextInt(1000))
        .setModelVersion(text())
        .setVector(vector)
        .setTextHash(text())
        .setTitle(maybe(this::text))
        .setText(text())
        .setDocVersion(random.nextLong())
        .setUrl(maybe(this::text))
        .setAttributes(stringMap())
        .build();
  }

  Impression impression() {
    List<RankedPassage> results = new ArrayList<>();
    int n = random.nextInt(30);
    for (int i = 0; i < n; i++) {
      results.add(new RankedPassage(id() + "#" + i, random.nextFloat() * 2 - 1, maybe(() -> random.nextInt(1000) + 1),
          maybe(() -> random.nextInt(1000) + 1), maybe(() -> random.nextInt(1000) + 1),
          maybe(() -> random.nextBoolean() ? io.d2search.events.Team.CURRENT : io.d2search.events.Team.CANARY)));
    }
    return Impression.newBuilder()
        .setQueryId(id())
        .setQuery(text())
        .setModelVersion(text())
        .setCanaryVersion(maybe(this::text))
        .setResults(results)
        .setMode(random.nextBoolean() ? "hybrid" : text())
        .setReranked(random.nextBoolean())
        .setTs(instant())
        .build();
  }

  Click click() {
    return Click.newBuilder()
        .setQueryId(id())
        .setPassageId(id() + "#" + random.nextInt(100))
        .setRank(random.nextInt())
        .setDwellMs(random.nextLong())
        .setTs(instant())
        .build();
  }

  TrainingExample trainingExample() {
    List<String> positives = new ArrayList<>();
    List<Negative> negatives = new ArrayList<>();
    int n = random.nextInt(10);
    for (int i = 0; i < n; i++) {
      positives.add(text());
      negatives.add(new Negative(text(), random.nextInt()));
    }
    return TrainingExample.newBuilder()
        .setQueryId(id())
        .setQuery(text())
        .setPositives(positives)
        .setNegatives(negatives)
        .setSource(pick(ExampleSource.values()))
        .setModelVersion(maybe(this::text))
        .setCanaryVersion(maybe(this::text))
        .setPositiveTeams(positives.stream().map(p -> random.nextBoolean() ? "CURRENT" : "CANARY").toList())
        .setTs(instant())
        .build();
  }

  ModelRelease modelRelease() {
    Map<String, Double> metrics = new LinkedHashMap<>();
    int n = random.nextInt(6);
    for (int i = 0; i < n; i++) {
      metrics.put(text(), random.nextInt(10) == 0 ? Double.MAX_VALUE : random.nextDouble());
    }
    return ModelRelease.newBuilder()
        .setVersion(text())
        .setParentVersion(maybe(this::text))
        .setBundleUri("file:/models/" + id())
        .setSha256(text())
        .setKind(pick(ReleaseKind.values()))
        .setStage(pick(ReleaseStage.values()))
        .setEmbeddingsTopic(random.nextBoolean() ? Topics.EMBEDDINGS : Topics.embeddingsTopicOf("v" + random.nextInt(1000)))
        .setMetrics(metrics)
        .setTs(instant())
        .build();
  }

  /** Non-empty and without '#', like a document id. */
  String id() {
    String id;
    do {
      id = text().replace('#', '_');
    } while (id.isEmpty());
    return id;
  }

  /** 0 to 60 code points, possibly empty. */
  String text() {
    int length = random.nextInt(61);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < length; i++) {
      int[] range = CODE_POINTS[random.nextInt(CODE_POINTS.length)];
      s.appendCodePoint(range[0] + random.nextInt(range[1] - range[0] + 1));
    }
    return s.toString();
  }

  private <T> T maybe(Supplier<T> value) {
    return random.nextBoolean() ? value.get() : null;
  }

  private <T> T pick(T[] values) {
    return values[random.nextInt(values.length)];
  }

  /** Millisecond precision, as timestamp-millis keeps; before and after the epoch. */
  private Instant instant() {
    return Instant.ofEpochMilli(random.nextLong(-8_000_000_000_000L, 8_000_000_000_000L));
  }

  private Map<String, String> stringMap() {
    Map<String, String> map = new LinkedHashMap<>();
    int n = random.nextInt(5);
    for (int i = 0; i < n; i++) {
      map.put(text(), text());
    }
    return map;
  }

  private float extremeFloat() {
    float[] extremes = {0f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY};
    return extremes[random.nextInt(extremes.length)];
  }
}
