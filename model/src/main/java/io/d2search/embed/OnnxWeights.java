package io.d2search.embed;

import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The float32 weights (initializers) of an ONNX graph, read straight from its protobuf bytes, and the same graph with
 * some of them replaced: how a backbone is fine-tuned outside ONNX Runtime (which cannot train) and served again by
 * it. Only the wire format is parsed ({@code ModelProto.graph = 7}, {@code GraphProto.node = 1, initializer = 5},
 * {@code NodeProto.input = 1, output = 2, op_type = 4}, {@code TensorProto.dims = 1, data_type = 2, name = 8,
 * raw_data = 9}); everything else is skipped and kept byte for byte.
 *
 * <p>PyTorch exports store {@code nn.Linear} weights transposed for {@code MatMul} under generated names
 * ({@code onnx::MatMul_787}). Such a weight is also known by its module's name, found from the graph: the
 * {@code Add} that follows its {@code MatMul} names the bias ({@code encoder.layer.0.attention.self.query.bias}), so
 * the weight answers to {@code encoder.layer.0.attention.self.query.weight}, in the graph's {@code [in, out]} layout
 * ({@code y = x·W + b}).
 *
 * <p>{@link #patched} rewrites raw bytes in place (a replacement must have the original's shape), so the result
 * differs from the input only inside the replaced tensors. Immutable.
 */
public final class OnnxWeights {
  private static final int FLOAT = 1;

  /** Where one float32 initializer's values lie in the graph's bytes. */
  private record Slot(String name, int[] shape, int offset, int length) {}

  private final byte[] onnx;
  private final Map<String, Slot> slots;
  private final Map<String, String> aliases;

  private OnnxWeights(byte[] onnx, Map<String, Slot> slots, Map<String, String> aliases) {
    this.onnx = onnx;
    this.slots = slots;
    this.aliases = aliases;
  }

  /**
   * Indexes a graph's float32 initializers stored as {@code raw_data} (the bytes are referenced, not copied; do not
   * change them).
   *
   * @throws IllegalArgumentException if the bytes are not an ONNX model with an inline graph
   */
  public static OnnxWeights read(byte[] onnx) {
    Objects.requireNonNull(onnx, "onnx");
    Map<String, Slot> slots = new LinkedHashMap<>();
    List<List<String>> matMuls = new ArrayList<>(); // [weight, output]
    Map<String, List<String>> addsByInput = new HashMap<>();
    try {
      CodedInputStream in = CodedInputStream.newInstance(onnx);
      boolean graph = false;
      for (int tag; (tag = in.readTag()) != 0; ) {
        if (tag != (7 << 3 | 2)) {
          in.skipField(tag);
          continue;
        }
        graph = true;
        int limit = in.pushLimit(in.readRawVarint32());
        for (int g; (g = in.readTag()) != 0; ) {
          if (g == (5 << 3 | 2)) {
            int tensorLimit = in.pushLimit(in.readRawVarint32());
            Slot slot = tensor(in);
            in.popLimit(tensorLimit);
            if (slot != null) {
              slots.put(slot.name(), slot);
            }
          } else if (g == (1 << 3 | 2)) {
            int nodeLimit = in.pushLimit(in.readRawVarint32());
            node(in, matMuls, addsByInput);
            in.popLimit(nodeLimit);
          } else {
            in.skipField(g);
          }
        }
        in.popLimit(limit);
      }
      if (!graph) {
        throw new IllegalArgumentException("not an ONNX model: no graph");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("not an ONNX model: " + e.getMessage(), e);
    }
    Map<String, String> aliases = new HashMap<>();
    for (List<String> mm : matMuls) {
      String weight = mm.get(0);
      if (!slots.containsKey(weight)) {
        continue;
      }
      for (String bias : addsByInput.getOrDefault(mm.get(1), List.of())) {
        if (bias.endsWith(".bias") && slots.containsKey(bias)) {
          aliases.put(bias.substring(0, bias.length() - ".bias".length()) + ".weight", weight);
        }
      }
    }
    return new OnnxWeights(onnx, Collections.unmodifiableMap(slots), Map.copyOf(aliases));
  }

  /** One TensorProto; null unless it is float32 with raw data. */
  private static Slot tensor(CodedInputStream in) throws IOException {
    List<Integer> dims = new ArrayList<>();
    String name = null;
    int type = 0;
    int offset = -1;
    int length = 0;
    for (int tag; (tag = in.readTag()) != 0; ) {
      switch (tag) {
        case 1 << 3 -> dims.add(Math.toIntExact(in.readInt64()));
        case 1 << 3 | 2 -> { // packed dims
          int limit = in.pushLimit(in.readRawVarint32());
          while (in.getBytesUntilLimit() > 0) {
            dims.add(Math.toIntExact(in.readInt64()));
          }
          in.popLimit(limit);
        }
        case 2 << 3 -> type = in.readInt32();
        case 8 << 3 | 2 -> name = in.readStringRequireUtf8();
        case 9 << 3 | 2 -> {
          length = in.readRawVarint32();
          offset = in.getTotalBytesRead();
          in.skipRawBytes(length);
        }
        default -> in.skipField(tag);
      }
    }
    if (type != FLOAT || offset < 0 || name == null) {
      return null;
    }
    int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
    long count = Arrays.stream(shape).asLongStream().reduce(1, Math::multiplyExact);
    if (count * Float.BYTES != length) {
      throw new IllegalArgumentException("initializer " + name + " has " + length + " bytes for shape "
          + Arrays.toString(shape));
    }
    return new Slot(name, shape, offset, length);
  }

  private static void node(CodedInputStream in, List<List<String>> matMuls, Map<String, List<String>> addsByInput)
      throws IOException {
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    String op = "";
    for (int tag; (tag = in.readTag()) != 0; ) {
      switch (tag) {
        case 1 << 3 | 2 -> inputs.add(in.readStringRequireUtf8());
        case 2 << 3 | 2 -> outputs.add(in.readStringRequireUtf8());
        case 4 << 3 | 2 -> op = in.readStringRequireUtf8();
        default -> in.skipField(tag);
      }
    }
    if (op.equals("MatMul") && inputs.size() == 2 && outputs.size() == 1) {
      matMuls.add(List.of(inputs.get(1), outputs.get(0)));
    } else if (op.equals("Add") && inputs.size() == 2) {
      addsByInput.computeIfAbsent(inputs.get(0), k -> new ArrayList<>()).add(inputs.get(1));
      addsByInput.computeIfAbsent(inputs.get(1), k -> new ArrayList<>()).add(inputs.get(0));
    }
  }

  /** The graph's own names of its float32 initializers (raw data), in graph order. */
  public List<String> names() {
    return List.copyOf(slots.keySet());
  }

  /** Whether the graph has a float32 initializer of this name or alias. */
  public boolean contains(String name) {
    return slot(name) != null;
  }

  /** The initializer's own name in the graph ({@code name} itself unless it is a module alias). */
  public String graphName(String name) {
    return require(name).name();
  }

  /** The initializer's shape. @throws IllegalArgumentException if there is none of that name */
  public int[] shape(String name) {
    return require(name).shape().clone();
  }

  /** The initializer's values, row-major (a new array). @throws IllegalArgumentException if there is none */
  public float[] get(String name) {
    Slot s = require(name);
    float[] out = new float[s.length() / Float.BYTES];
    ByteBuffer.wrap(onnx, s.offset(), s.length()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  /**
   * The graph's bytes with these initializers' values replaced (names or aliases), everything else unchanged.
   *
   * @throws IllegalArgumentException if a name is unknown or a value count does not match its shape
   */
  public byte[] patched(Map<String, float[]> replacements) {
    byte[] out = onnx.clone();
    replacements.forEach((name, values) -> {
      Slot s = require(name);
      if ((long) values.length * Float.BYTES != s.length()) {
        throw new IllegalArgumentException("initializer " + name + " has shape " + Arrays.toString(s.shape())
            + "; got " + values.length + " values");
      }
      ByteBuffer.wrap(out, s.offset(), s.length()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values);
    });
    return out;
  }

  private Slot slot(String name) {
    Slot s = slots.get(name);
    return s != null ? s : slots.get(aliases.getOrDefault(name, ""));
  }

  private Slot require(String name) {
    Slot s = slot(name);
    if (s == null) {
      throw new IllegalArgumentException("the graph has no float32 initializer " + name);
    }
    return s;
  }

  /** The weights of a backbone's graph. @throws java.io.UncheckedIOException if it cannot be read */
  public static OnnxWeights of(BackboneSource source) {
    return read(source.onnxBytes());
  }
}
