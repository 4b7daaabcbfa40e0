package io.d2search.bench.jmh;

import io.d2search.embed.PmaHead;
import io.d2search.nn.Linear;
import io.d2search.nn.MatMul;
import io.d2search.rank.IemHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The two model heads that run in Java, at the served shapes (d = 384, the IEM's hidden width 512): the IEM
 * re-ranking one query's top candidates with each {@link MatMul} kernel, and the PMA pooling one text's token states.
 * Weights are random (the work does not depend on their values). Run by {@code bench heads}, which prints the
 * kernels' ratios.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx1g"})
public class HeadsBenchmark {

  /** The IEM over one query's candidates. */
  @State(Scope.Benchmark)
  public static class Iem {
    /** The {@link MatMul} kernel's name: {@code scalar}, {@code lucene-dot} or {@code panama-4x4}. */
    @Param({"scalar", "lucene-dot", "panama-4x4"})
    public String kernel;

    /** Candidates re-ranked per query ({@code search.rerank-depth}'s default is 100). */
    @Param({"100"})
    public int candidates;

    /** What fc1 reads ({@code interaction-only} is what {@code distill} trains by default). */
    @Param({"interaction-only"})
    public String input;

    IemHead head;
    float[] query;
    List<float[]> passages;

    @Setup
    public void setUp() {
      Random random = new Random(42);
      int d = 384;
      int hidden = 512;
      IemHead.Input in = IemHead.Input.fromId(input);
      head = new IemHead(in, linear(random, hidden, in.blocks() * d), linear(random, hidden, hidden),
          linear(random, hidden, hidden), linear(random, 1, hidden)).withKernel(kernel(kernel));
      query = unit(random, d);
      passages = new ArrayList<>();
      for (int i = 0; i < candidates; i++) {
        passages.add(unit(random, d));
      }
    }
  }

  /** The PMA pooling one text. */
  @State(Scope.Benchmark)
  public static class Pma {
    /** Tokens of the text (a query: ~16; a SciFact passage: up to the backbone's 256). */
    @Param({"16", "256"})
    public int tokens;

    PmaHead head;
    float[][] states;
    long[] mask;

    @Setup
    public void setUp() {
      Random random = new Random(7);
      head = PmaHead.meanInit(384, 12, 1);
      states = new float[tokens][];
      mask = new long[tokens];
      for (int t = 0; t < tokens; t++) {
        states[t] = gaussian(random, 384, 0.5);
        mask[t] = 1;
      }
    }
  }

  @Benchmark
  public float[] iemRerank(Iem s) {
    return s.head.logits(s.query, s.passages, IemHead.Branch.ASYMMETRIC);
  }

  @Benchmark
  public float[] pmaPool(Pma s) {
    return s.head.pool(s.states, s.mask);
  }

  /** The kernel of that name. */
  public static MatMul kernel(String name) {
    for (MatMul k : new MatMul[] {MatMul.scalar(), MatMul.dotProducts(), MatMul.best()}) {
      if (k.name().equals(name)) {
        return k;
      }
    }
    throw new IllegalArgumentException("no kernel " + name + " in this JVM (scalar, lucene-dot, "
        + MatMul.best().name() + ")");
  }

  private static Linear linear(Random random, int out, int in) {
    return Linear.of(out, in, gaussian(random, out * in, 2 / Math.sqrt(in)), gaussian(random, out, 0.1));
  }

  private static float[] gaussian(Random random, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (random.nextGaussian() * std);
    }
    return v;
  }

  private static float[] unit(Random random, int n) {
    float[] v = gaussian(random, n, 1);
    org.apache.lucene.util.VectorUtil.l2normalize(v);
    return v;
  }
}
