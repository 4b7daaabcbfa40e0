package io.d2search.teach;

import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a tiny but real sequence-classification ONNX model, encoding the {@code onnx.ModelProto} protobuf by hand
 * (field numbers from {@code onnx/onnx.proto}), so the cross-encoder teacher can be tested without a downloaded
 * model. The network, opset 13, IR version 7, fixed weights:
 *
 * <pre>
 * ids    = Mod(input_ids, V)                                  vocabulary folded into V rows
 * emb    = Gather(wordEmb[V, D], ids) + Gather(typeEmb[2, D], token_type_ids)       [B, L, D]
 * mask   = Unsqueeze(Cast(attention_mask, float), axes=[2])                           [B, L, 1]
 * pooled = ReduceSum(emb · mask, axes=[1]) / ReduceSum(mask, axes=[1])                [B, D]
 * logits = MatMul(pooled, W[D, C]) + bias[C]                                          [B, C]
 * </pre>
 *
 * {@link #wordEmbedding}, {@link #typeEmbedding}, {@link #weight} and {@link #bias} give the same float weights to
 * tests that compute the network by hand. Run {@code main} with the output path to regenerate
 * {@code src/test/resources/tiny-cross-encoder.onnx}.
 */
public final class TinyCrossEncoderGenerator {
  static final int VOCAB = 97;
  static final int DIM = 4;
  static final String RESOURCE = "tiny-cross-encoder.onnx";

  private TinyCrossEncoderGenerator() {}

  public static void main(String[] args) throws IOException {
    Path out = Path.of(args.length > 0 ? args[0] : "src/test/resources/" + RESOURCE);
    Files.write(out, model(2, "logits"));
    System.out.println("wrote " + out.toAbsolutePath() + " (" + Files.size(out) + " bytes)");
  }

  static float wordEmbedding(int v, int d) {
    return (float) (0.5 * Math.sin(0.37 * (v + 1) * (d + 1)));
  }

  static float typeEmbedding(int type, int d) {
    return (float) (type == 0 ? 0.1 * (d + 1) : -0.2 * (d - 1.5));
  }

  static float weight(int d, int c) {
    return (float) Math.cos(1.3 * (d + 1) + 2.1 * c) * (c == 0 ? -1.5f : 1.5f);
  }

  static float bias(int c) {
    return c == 0 ? 0.05f : -0.1f;
  }

  /**
   * The model's bytes.
   *
   * @param classes C, the width of the output
   * @param outputName name of the output ({@code logits} for a valid cross-encoder)
   */
  static byte[] model(int classes, String outputName) throws IOException {
    float[] word = new float[VOCAB * DIM];
    for (int v = 0; v < VOCAB; v++) {
      for (int d = 0; d < DIM; d++) {
        word[v * DIM + d] = wordEmbedding(v, d);
      }
    }
    float[] type = new float[2 * DIM];
    for (int t = 0; t < 2; t++) {
      for (int d = 0; d < DIM; d++) {
        type[t * DIM + d] = typeEmbedding(t, d);
      }
    }
    float[] w = new float[DIM * classes];
    for (int d = 0; d < DIM; d++) {
      for (int c = 0; c < classes; c++) {
        w[d * classes + c] = weight(d, c);
      }
    }
    float[] b = new float[classes];
    for (int c = 0; c < classes; c++) {
      b[c] = bias(c);
    }

    byte[] graph = message(g -> {
      // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12
      g.writeByteArray(1, node("Mod", new String[] {"input_ids", "vocab"}, "ids"));
      g.writeByteArray(1, node("Gather", new String[] {"word_emb", "ids"}, "tok"));
      g.writeByteArray(1, node("Gather", new String[] {"type_emb", "token_type_ids"}, "typ"));
      g.writeByteArray(1, node("Add", new String[] {"tok", "typ"}, "emb"));
      g.writeByteArray(1, node("Cast", new String[] {"attention_mask"}, "mask_f", intAttribute("to", 1)));
      g.writeByteArray(1, node("Unsqueeze", new String[] {"mask_f", "axis2"}, "mask3"));
      g.writeByteArray(1, node("Mul", new String[] {"emb", "mask3"}, "masked"));
      g.writeByteArray(1, node("ReduceSum", new String[] {"masked", "axis1"}, "summed", intAttribute("keepdims", 0)));
      g.writeByteArray(1, node("ReduceSum", new String[] {"mask3", "axis1"}, "count", intAttribute("keepdims", 0)));
      g.writeByteArray(1, node("Div", new String[] {"summed", "count"}, "pooled"));
      g.writeByteArray(1, node("MatMul", new String[] {"pooled", "w"}, "hidden"));
      g.writeByteArray(1, node("Add", new String[] {"hidden", "bias"}, outputName));
      g.writeString(2, "tiny-cross-encoder");
      g.writeByteArray(5, int64Tensor("vocab", new long[0], new long[] {VOCAB}));
      g.writeByteArray(5, floatTensor("word_emb", new long[] {VOCAB, DIM}, word));
      g.writeByteArray(5, floatTensor("type_emb", new long[] {2, DIM}, type));
      g.writeByteArray(5, int64Tensor("axis1", new long[] {1}, new long[] {1}));
      g.writeByteArray(5, int64Tensor("axis2", new long[] {1}, new long[] {2}));
      g.writeByteArray(5, floatTensor("w", new long[] {DIM, classes}, w));
      g.writeByteArray(5, floatTensor("bias", new long[] {classes}, b));
      for (String input : new String[] {"input_ids", "attention_mask", "token_type_ids"}) {
        g.writeByteArray(11, valueInfo(input, 7, "batch", "seq"));
      }
      g.writeByteArray(12, valueInfo(outputName, 1, "batch", classes));
    });
    return message(m -> {
      // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7, opset_import = 8
      m.writeInt64(1, 7);
      m.writeString(2, "d2search TinyCrossEncoderGenerator");
      m.writeString(3, "1");
      m.writeByteArray(7, graph);
      m.writeByteArray(8, message(o -> {
        o.writeString(1, ""); // OperatorSetIdProto: domain = 1 (default ai.onnx), version = 2
        o.writeInt64(2, 13);
      }));
    });
  }

  /** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
  private static byte[] node(String op, String[] inputs, String output, byte[]... attributes) throws IOException {
    return message(n -> {
      for (String in : inputs) {
        n.writeString(1, in);
      }
      n.writeString(2, output);
      n.writeString(3, op + "_" + output);
      n.writeString(4, op);
      for (byte[] a : attributes) {
        n.writeByteArray(5, a);
      }
    });
  }

  /** AttributeProto: name = 1, i = 3, type = 20 (INT = 2). */
  private static byte[] intAttribute(String name, long value) throws IOException {
    return message(a -> {
      a.writeString(1, name);
      a.writeInt64(3, value);
      a.writeEnum(20, 2);
    });
  }

  /** TensorProto: dims = 1, data_type = 2 (FLOAT = 1), name = 8, raw_data = 9 (little-endian). */
  private static byte[] floatTensor(String name, long[] dims, float[] values) throws IOException {
    ByteBuffer raw = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      raw.putFloat(v);
    }
    return tensor(name, dims, 1, raw.array());
  }

  /** TensorProto with data_type INT64 = 7. */
  private static byte[] int64Tensor(String name, long[] dims, long[] values) throws IOException {
    ByteBuffer raw = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      raw.putLong(v);
    }
    return tensor(name, dims, 7, raw.array());
  }

  private static byte[] tensor(String name, long[] dims, int dataType, byte[] raw) throws IOException {
    return message(t -> {
      for (long d : dims) {
        t.writeInt64(1, d);
      }
      t.writeInt32(2, dataType);
      t.writeString(8, name);
      t.writeByteArray(9, raw);
    });
  }

  /**
   * ValueInfoProto (name = 1, type = 2) of a tensor: TypeProto.tensor_type = 1 → Tensor (elem_type = 1, shape = 2)
   * → TensorShapeProto (dim = 1) → Dimension (dim_value = 1 or dim_param = 2).
   */
  private static byte[] valueInfo(String name, int elemType, Object... dims) throws IOException {
    byte[] shape = message(s -> {
      for (Object d : dims) {
        s.writeByteArray(1, message(dim -> {
          if (d instanceof String param) {
            dim.writeString(2, param);
          } else {
            dim.writeInt64(1, ((Number) d).longValue());
          }
        }));
      }
    });
    byte[] tensorType = message(t -> {
      t.writeInt32(1, elemType);
      t.writeByteArray(2, shape);
    });
    byte[] type = message(t -> t.writeByteArray(1, tensorType));
    return message(v -> {
      v.writeString(1, name);
      v.writeByteArray(2, type);
    });
  }

  private interface Body {
    void write(CodedOutputStream out) throws IOException;
  }

  private static byte[] message(Body body) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    body.write(out);
    out.flush();
    return bytes.toByteArray();
  }
}
