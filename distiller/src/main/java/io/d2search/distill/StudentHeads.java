package io.d2search.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.d2search.bundle.Tensor;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.function.Predicate;

/**
 * The trainable heads of a D2LLM student: a {@link PmaBlock} and, optionally, an {@link IemBlock}, their float32
 * parameters held in an {@link NDManager} that this object owns, under the tensor names of
 * {@code docs/d2llm-heads.md}. Loads from and saves to {@code heads.safetensors}. A student that fine-tunes its
 * backbone's top layers also carries them ({@link BertLayers}, names {@code backbone.*}); its token states are then
 * those entering the first of them, and the PMA pools what they output.
 *
 * <p>Parameters are created outside any {@link NDScope}, so a training step may run its forward in a scope and
 * close every intermediate without touching them. Not thread-safe: one trainer uses one instance. Close it to free
 * the native memory.
 */
public final class StudentHeads implements AutoCloseable {
  /**
   * Initial value of every entry of {@code pma.fc_o.bias}. The doc's version 0 has {@code bo = 0}, and with
   * {@code Wo = 0} the pre-activation of {@code ReLU(O·Woᵀ + bo)} is then exactly 0, where ReLU's gradient is 0:
   * {@code fc_o} would never train. A positive constant bias keeps it alive and changes nothing else: it adds the
   * same constant to every coordinate, which {@code LN1} removes exactly (it subtracts the mean).
   */
  public static final float FC_O_BIAS_INIT = 0.01f;

  private final NDManager manager;
  private final HeadsSpec spec;
  private final Map<String, NDArray> parameters = new LinkedHashMap<>();
  private final PmaBlock pma;
  private final IemBlock iem;
  private final BertLayers backbone; // null unless the student tunes backbone layers

  private StudentHeads(NDManager manager, HeadsSpec spec, Map<String, Tensor> tensors, int backboneHeads) {
    this.manager = manager;
    this.spec = spec;
    tensors.forEach((name, t) -> {
      NDArray array = Scalars.owned(manager, t.data(), shapeOf(t)); // see Scalars: no Java buffer behind it
      array.setName(name);
      NDScope.unregister(array); // a parameter outlives any scope it was created in
      parameters.put(name, array);
    });
    this.pma = PmaBlock.of(parameters, spec.heads());
    this.iem = spec.hasIem() ? IemBlock.of(parameters, spec.iemInput()) : null;
    this.backbone = BertLayers.layerIndices(parameters.keySet()).isEmpty() ? null
        : BertLayers.of(parameters, backboneHeads);
  }

  /**
   * The initial tensors of {@code spec}, from {@code seed} (java.util.Random, so reproducible everywhere).
   *
   * <p>PMA: the doc's "mean" initialisation ({@code Wk = 0, bk = 0, Wq = Wv = I, bq = bv = 0, Wo = 0}, LayerNorms
   * γ = 1, β = 0, {@code S ~ N(0, 0.01²)} drawn as {@code PmaHead.meanInit} draws it) except
   * {@code bo = }{@link #FC_O_BIAS_INIT}. IEM: PyTorch's default {@code nn.Linear} initialisation, weights and
   * biases uniform in {@code ±1/sqrt(in)}, drawn in {@link IemBlock#NAMES} order from a second stream.
   */
  public static Map<String, Tensor> initialTensors(HeadsSpec spec, long seed) {
    return initialTensors(spec, seed, IemInit.RANDOM);
  }

  /**
   * As {@link #initialTensors(HeadsSpec, long)}, then the IEM as {@code iemInit} says (the same random draws, so
   * the two differ only in the units {@link IemInit#COSINE} sets).
   *
   * @throws IllegalArgumentException if {@code iemInit} is COSINE and the spec's IEM input has no {@code q ⊙ p} block
   */
  public static Map<String, Tensor> initialTensors(HeadsSpec spec, long seed, IemInit iemInit) {
    Map<String, Tensor> out = randomTensors(spec, seed);
    if (iemInit == IemInit.COSINE && spec.hasIem()) {
      cosineIem(out, spec);
    }
    return out;
  }

  /** Replaces the IEM tensors that {@link IemInit#COSINE} changes. */
  private static void cosineIem(Map<String, Tensor> tensors, HeadsSpec spec) {
    int product = spec.iemInput().block(IemHead.Part.PRODUCT);
    if (product < 0) {
      throw new IllegalArgumentException("a cosine IEM start needs an input with the q ⊙ p block (interaction or "
          + "interaction-only), not " + spec.iemInput().id());
    }
    int d = spec.dimension();
    int h = spec.iemHidden();
    int in = spec.iemInput().blocks() * d;
    float[] fc1 = tensors.get(IemBlock.FC1_WEIGHT).data();
    float[] fc1Bias = tensors.get(IemBlock.FC1_BIAS).data();
    for (int unit = 0; unit < 2; unit++) {
      Arrays.fill(fc1, unit * in, (unit + 1) * in, 0f);
      // Σ over the q ⊙ p block of the input is q·p; unit 1 sees its negation.
      Arrays.fill(fc1, unit * in + product * d, unit * in + (product + 1) * d, unit == 0 ? 1f : -1f);
      fc1Bias[unit] = 0f;
    }
    replace(tensors, IemBlock.FC1_WEIGHT, fc1);
    replace(tensors, IemBlock.FC1_BIAS, fc1Bias);
    for (String proj : List.of("iem.proj0", "iem.proj1")) {
      float[] w = tensors.get(proj + ".weight").data();
      float[] b = tensors.get(proj + ".bias").data();
      for (int unit = 0; unit < 2; unit++) {
        Arrays.fill(w, unit * h, (unit + 1) * h, 0f);
        w[unit * h + unit] = 1f;
        b[unit] = 0f;
      }
      replace(tensors, proj + ".weight", w);
      replace(tensors, proj + ".bias", b);
    }
    float[] out = new float[h];
    out[0] = IemInit.COSINE_SCALE;
    out[1] = -IemInit.COSINE_SCALE;
    replace(tensors, IemBlock.OUT_WEIGHT, out);
    replace(tensors, IemBlock.OUT_BIAS, new float[1]);
  }

  private static void replace(Map<String, Tensor> tensors, String name, float[] data) {
    tensors.put(name, new Tensor(tensors.get(name).shape(), data));
  }

  private static Map<String, Tensor> randomTensors(HeadsSpec spec, long seed) {
    int d = spec.dimension();
    Map<String, Tensor> out = new LinkedHashMap<>();
    Random random = new Random(seed);
    float[] s = new float[d];
    for (int i = 0; i < d; i++) {
      s[i] = (float) (random.nextGaussian() * 0.01);
    }
    float[] identity = new float[d * d];
    for (int i = 0; i < d; i++) {
      identity[i * d + i] = 1f;
    }
    float[] ones = new float[d];
    Arrays.fill(ones, 1f);
    float[] foBias = new float[d];
    Arrays.fill(foBias, FC_O_BIAS_INIT);
    int[] square = {d, d};
    int[] vector = {d};
    out.put(PmaBlock.SEED, new Tensor(new int[] {1, d}, s));
    out.put(PmaBlock.FC_Q_WEIGHT, new Tensor(square, identity.clone()));
    out.put(PmaBlock.FC_Q_BIAS, new Tensor(vector, new float[d]));
    out.put(PmaBlock.FC_K_WEIGHT, new Tensor(square, new float[d * d]));
    out.put(PmaBlock.FC_K_BIAS, new Tensor(vector, new float[d]));
    out.put(PmaBlock.FC_V_WEIGHT, new Tensor(square, identity.clone()));
    out.put(PmaBlock.FC_V_BIAS, new Tensor(vector, new float[d]));
    out.put(PmaBlock.FC_O_WEIGHT, new Tensor(square, new float[d * d]));
    out.put(PmaBlock.FC_O_BIAS, new Tensor(vector, foBias));
    out.put(PmaBlock.LN0_WEIGHT, new Tensor(vector, ones.clone()));
    out.put(PmaBlock.LN0_BIAS, new Tensor(vector, new float[d]));
    out.put(PmaBlock.LN1_WEIGHT, new Tensor(vector, ones.clone()));
    out.put(PmaBlock.LN1_BIAS, new Tensor(vector, new float[d]));
    if (spec.hasIem()) {
      Random iemRandom = new Random(seed ^ 0x5DEECE66DL);
      IemBlock.shapes(d, spec.iemInput(), spec.iemHidden()).forEach((name, shape) -> {
        long fanIn = name.endsWith(".weight") ? shape.get(1) : fanInOfBias(name, d, spec);
        double bound = 1.0 / Math.sqrt(fanIn);
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) ((iemRandom.nextDouble() * 2 - 1) * bound);
        }
        out.put(name, new Tensor(intShape(shape), values));
      });
    }
    return out;
  }

  private static long fanInOfBias(String name, int d, HeadsSpec spec) {
    return name.equals(IemBlock.FC1_BIAS) ? (long) spec.iemInput().blocks() * d : spec.iemHidden();
  }

  /** Fresh heads of this architecture, initialised by {@link #initialTensors}. */
  public static StudentHeads create(NDManager parent, HeadsSpec spec, long seed) {
    return new StudentHeads(parent.newSubManager(), spec, initialTensors(spec, seed), BertLayers.DEFAULT_HEADS);
  }

  /**
   * Heads over these tensors (copied into a new child manager of {@code parent}). {@code d} is read from
   * {@code pma.seed}; the IEM is present when {@code iem.fc1.weight} is, and its hidden width is read from that
   * tensor's shape.
   *
   * @param heads PMA attention heads (not recoverable from the shapes; the manifest's {@code pooling.heads})
   * @param input what the IEM reads (not recoverable from the shapes either: concat and interaction-only are both
   *     2d wide; the manifest's {@code iem.input}); ignored without IEM tensors
   * @throws IllegalArgumentException naming a missing tensor or a wrong shape
   */
  public static StudentHeads fromTensors(NDManager parent, Map<String, Tensor> tensors, int heads,
      IemHead.Input input) {
    return fromTensors(parent, tensors, heads, input, BertLayers.DEFAULT_HEADS);
  }

  /**
   * As {@link #fromTensors(NDManager, Map, int, IemHead.Input)}, also taking the backbone layers among the tensors
   * (names {@link BertLayers#PREFIX}{@code encoder.layer.N.*}): their output, not the token states given, is what
   * the PMA pools.
   *
   * @param backboneHeads attention heads of those layers
   */
  public static StudentHeads fromTensors(NDManager parent, Map<String, Tensor> tensors, int heads,
      IemHead.Input input, int backboneHeads) {
    Tensor seed = tensors.get(PmaBlock.SEED);
    if (seed == null || seed.shape().length != 2) {
      throw new IllegalArgumentException("heads need tensor " + PmaBlock.SEED + " of shape [1, d]");
    }
    int d = seed.shape()[1];
    Tensor fc1 = tensors.get(IemBlock.FC1_WEIGHT);
    HeadsSpec spec;
    if (fc1 == null) {
      spec = new HeadsSpec(d, heads, null, IemBlock.DEFAULT_HIDDEN);
    } else {
      Objects.requireNonNull(input, "input: the tensors have an IEM");
      int[] shape = fc1.shape();
      if (shape.length != 2 || shape[1] != input.blocks() * d) {
        throw new IllegalArgumentException(IemBlock.FC1_WEIGHT + " has shape " + Arrays.toString(shape)
            + ", IEM input " + input.id() + " needs [H, " + input.blocks() * d + "]");
      }
      spec = new HeadsSpec(d, heads, input, shape[0]);
    }
    Map<String, Tensor> known = new LinkedHashMap<>();
    for (String name : PmaBlock.NAMES) {
      known.put(name, require(tensors, name));
    }
    if (spec.hasIem()) {
      for (String name : IemBlock.NAMES) {
        known.put(name, require(tensors, name));
      }
    }
    tensors.forEach((name, t) -> {
      if (name.startsWith(BertLayers.PREFIX)) {
        known.put(name, t);
      }
    });
    NDManager manager = parent.newSubManager();
    try {
      return new StudentHeads(manager, spec, known, backboneHeads);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  private static Tensor require(Map<String, Tensor> tensors, String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("missing tensor " + name);
    }
    return t;
  }

  /**
   * Writes the current parameters to a {@code heads.safetensors} file, replacing it atomically.
   *
   * @param metadata string pairs for the file's {@code __metadata__} (e.g. training step, loss); may be empty
   */
  public void save(Path file, Map<String, String> metadata) {
    HeadsFile.write(file, toTensors(), metadata);
  }

  /** A copy of every parameter, in bundle order. */
  public Map<String, Tensor> toTensors() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    parameters.forEach((name, array) ->
        out.put(name, new Tensor(intShape(array.getShape()), array.toType(DataType.FLOAT32, false).toFloatArray())));
    return out;
  }

  /**
   * Overwrites the parameters in place with these values (e.g. the best epoch's), keeping gradients attached.
   * (libtorch logs a one-time "AutoNonVariableTypeMode is deprecated" warning from DJL's {@code NDArray.set}.)
   *
   * @param tensors a value for every parameter, with the same shapes (extra names are an error)
   */
  public void restore(Map<String, Tensor> tensors) {
    if (!tensors.keySet().equals(parameters.keySet())) {
      throw new IllegalArgumentException("restore needs exactly " + parameters.keySet() + "; got " + tensors.keySet());
    }
    tensors.forEach((name, t) -> {
      NDArray p = parameters.get(name);
      if (!p.getShape().equals(shapeOf(t))) {
        throw new IllegalArgumentException("tensor " + name + " has shape " + shapeOf(t)
            + ", parameter is " + p.getShape());
      }
      p.set(t.data());
    });
  }

  static Shape shapeOf(Tensor t) {
    return new Shape(java.util.Arrays.stream(t.shape()).asLongStream().toArray());
  }

  static int[] intShape(Shape shape) {
    return java.util.Arrays.stream(shape.getShape()).mapToInt(Math::toIntExact).toArray();
  }

  /** What these heads are. */
  public HeadsSpec spec() {
    return spec;
  }

  /** The PMA over the live parameters. */
  public PmaBlock pma() {
    return pma;
  }

  /** The IEM over the live parameters, if these heads have one. */
  public Optional<IemBlock> iem() {
    return Optional.ofNullable(iem);
  }

  /** The IEM. @throws IllegalStateException if these heads have none */
  public IemBlock requireIem() {
    if (iem == null) {
      throw new IllegalStateException("these heads have no IEM");
    }
    return iem;
  }

  /** The backbone layers these heads tune, if any: they run on the token states before the PMA. */
  public Optional<BertLayers> backbone() {
    return Optional.ofNullable(backbone);
  }

  /** Every parameter by name, in bundle order (the live arrays; do not close them). */
  public Map<String, NDArray> parameters() {
    return Collections.unmodifiableMap(parameters);
  }

  /** Attaches gradients to the parameters whose names pass {@code trainable}; the others stay frozen. */
  public void requireGradients(Predicate<String> trainable) {
    Objects.requireNonNull(trainable, "trainable");
    parameters.forEach((name, array) -> array.setRequiresGradient(trainable.test(name)));
  }

  /** The manager that owns the parameters; arrays created from it live until {@link #close()}. */
  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    manager.close();
  }
}
