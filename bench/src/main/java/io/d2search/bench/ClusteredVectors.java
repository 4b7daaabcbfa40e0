package io.d2search.bench;

import java.util.Random;

/**
 * Synthetic unit vectors shaped like a sentence encoder's: every vector shares a common direction (encoders are
 * anisotropic), and passages sit in a three-level hierarchy of subjects (a field, a subject within it, a topic of
 * about {@code topicSize} passages within that), each level adding its centre's direction, plus noise. So a
 * passage's cosine to another is about 0.05 across fields, 0.2 within a field, 0.35 within a subject and 0.5 within
 * a topic, and a query (a noisier point of a topic: a short query sits further from its passages than they sit from
 * each other) has its ten nearest passages among near-ties, which is what makes HNSW miss some. Deterministic: the
 * i-th passage, its g-th replacement and the j-th query depend only on the seed and their numbers.
 *
 * <p>Used by {@link IndexBench} at sizes (10⁵–10⁶) for which real encoder vectors would take hours to compute on
 * two cores; the table says so.
 */
final class ClusteredVectors {
  /** Weights of the shared direction and of each level's centre, and the noise's norm for passages and queries. */
  private static final double SHARED = 0.3;
  private static final double LEVEL = 0.5;
  private static final double PASSAGE_NOISE = 0.9;
  private static final double QUERY_NOISE = 1.2;
  /** Fields, and subjects per field. */
  private static final int FIELDS = 20;
  private static final int SUBJECTS = 25;

  private final int dimension;
  private final long seed;
  private final float[] shared;
  private final float[][] fields;
  private final float[][] subjects; // [FIELDS * SUBJECTS]
  private final float[][] topics; // each under subject t % subjects.length

  /**
   * @param dimension vector length
   * @param topics how many topics (the finest level)
   * @param seed the seed of everything
   */
  ClusteredVectors(int dimension, int topics, long seed) {
    if (dimension < 2 || topics < 1) {
      throw new IllegalArgumentException("dimension >= 2 and topics >= 1: " + dimension + ", " + topics);
    }
    this.dimension = dimension;
    this.seed = seed;
    Random random = new Random(seed);
    this.shared = gaussianUnit(random);
    this.fields = new float[FIELDS][];
    for (int f = 0; f < FIELDS; f++) {
      fields[f] = gaussianUnit(random);
    }
    this.subjects = new float[FIELDS * SUBJECTS][];
    for (int s = 0; s < subjects.length; s++) {
      subjects[s] = gaussianUnit(random);
    }
    this.topics = new float[topics][];
    for (int t = 0; t < topics; t++) {
      this.topics[t] = gaussianUnit(random);
    }
  }

  int dimension() {
    return dimension;
  }

  /** The i-th passage's vector. */
  float[] passage(long i) {
    return point(new Random(mix(seed, 1, i, 0)), PASSAGE_NOISE);
  }

  /** The vector of passage i after its g-th update (same kind of point, a new topic and noise). */
  float[] replacement(long i, int generation) {
    return point(new Random(mix(seed, 2, i, generation)), PASSAGE_NOISE);
  }

  /** The j-th query's vector. */
  float[] query(long j) {
    return point(new Random(mix(seed, 3, j, 0)), QUERY_NOISE);
  }

  private float[] point(Random random, double noise) {
    int t = random.nextInt(topics.length);
    float[] topic = topics[t];
    float[] subject = subjects[t % subjects.length];
    float[] field = fields[(t % subjects.length) % FIELDS];
    double sigma = noise / Math.sqrt(dimension);
    float[] v = new float[dimension];
    double norm = 0;
    for (int d = 0; d < dimension; d++) {
      double x = SHARED * shared[d] + LEVEL * (field[d] + subject[d] + topic[d]) + sigma * random.nextGaussian();
      v[d] = (float) x;
      norm += x * x;
    }
    return normalize(v, norm);
  }

  private float[] gaussianUnit(Random random) {
    float[] v = new float[dimension];
    double norm = 0;
    for (int d = 0; d < dimension; d++) {
      double x = random.nextGaussian();
      v[d] = (float) x;
      norm += x * x;
    }
    return normalize(v, norm);
  }

  private static float[] normalize(float[] v, double squaredNorm) {
    float inv = (float) (1 / Math.sqrt(squaredNorm));
    for (int d = 0; d < v.length; d++) {
      v[d] *= inv;
    }
    // Re-normalise in float: the index refuses vectors whose float norm strays from 1.
    double check = 0;
    for (float x : v) {
      check += x * x;
    }
    float again = (float) (1 / Math.sqrt(check));
    for (int d = 0; d < v.length; d++) {
      v[d] *= again;
    }
    return v;
  }

  /** A 64-bit mix (SplitMix64's finaliser) of the seed, the kind of vector and its numbers. */
  private static long mix(long seed, int kind, long number, int generation) {
    long z = seed ^ (kind * 0x9E3779B97F4A7C15L) ^ (number * 0xBF58476D1CE4E5B9L) ^ ((long) generation << 40);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
