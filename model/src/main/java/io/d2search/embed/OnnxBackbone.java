package io.d2search.embed;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A transformer encoder run by ONNX Runtime: token ids in, {@code last_hidden_state} out. The graph is checked
 * at construction (inputs {@code input_ids} and {@code attention_mask}, optional {@code token_type_ids}; a rank-3
 * float output), so a wrong model fails at startup with a message that lists what the model has.
 *
 * <p>Thread-safe: ONNX Runtime sessions may be run concurrently.
 */
public final class OnnxBackbone implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OnnxBackbone.class);
  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";
  static final String OUTPUT = "last_hidden_state";

  private final OrtEnvironment env;
  private final OrtSession session;
  private final boolean wantsTokenTypes;
  private final int dimension;
  private final ExecutionProvider provider;

  private OnnxBackbone(OrtEnvironment env, OrtSession session, ExecutionProvider provider) throws OrtException {
    this.env = env;
    this.session = session;
    this.provider = provider;
    Set<String> inputs = session.getInputNames();
    if (!inputs.contains(INPUT_IDS) || !inputs.contains(ATTENTION_MASK)) {
      throw new IllegalArgumentException(
          "backbone needs inputs " + INPUT_IDS + " and " + ATTENTION_MASK + "; the model has " + inputs);
    }
    this.wantsTokenTypes = inputs.contains(TOKEN_TYPE_IDS);
    Map<String, NodeInfo> outputs = session.getOutputInfo();
    NodeInfo out = outputs.get(OUTPUT);
    if (out == null || !(out.getInfo() instanceof TensorInfo info) || info.getShape().length != 3) {
      throw new IllegalArgumentException(
          "backbone needs a rank-3 float output " + OUTPUT + " [batch, tokens, dim]; the model has " + outputs);
    }
    long dim = info.getShape()[2];
    if (dim <= 0) {
      throw new IllegalArgumentException("backbone output " + OUTPUT + " has no fixed dimension: " + info);
    }
    this.dimension = (int) dim;
  }

  /**
   * Creates a session over the graph bytes.
   *
   * @param intraOpThreads 0 lets ONNX Runtime choose
   */
  public static OnnxBackbone create(byte[] onnx, int intraOpThreads, ExecutionProvider requested) {
    OnnxSessions.Created created = OnnxSessions.create("ONNX backbone", onnx, intraOpThreads, requested);
    try {
      return new OnnxBackbone(OrtEnvironment.getEnvironment(), created.session(), created.provider());
    } catch (OrtException | RuntimeException e) {
      try {
        created.session().close();
      } catch (OrtException closing) {
        e.addSuppressed(closing);
      }
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException("Cannot inspect ONNX backbone: " + e.getMessage(), e);
    }
  }

  /** Runs the encoder on a tokenized batch. */
  public TokenStates run(TextTokenizer.Batch batch) {
    if (batch.size() == 0) {
      return new TokenStates(new float[0], 0, 0, dimension, new long[0][]);
    }
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      inputs.put(INPUT_IDS, OnnxTensor.createTensor(env, batch.ids()));
      inputs.put(ATTENTION_MASK, OnnxTensor.createTensor(env, batch.mask()));
      if (wantsTokenTypes) {
        inputs.put(TOKEN_TYPE_IDS, OnnxTensor.createTensor(env, batch.typeIds()));
      }
      try (OrtSession.Result result = session.run(inputs)) {
        OnnxTensor out = (OnnxTensor) result.get(OUTPUT).orElseThrow();
        long[] shape = out.getInfo().getShape();
        FloatBuffer buffer = out.getFloatBuffer();
        float[] data = new float[buffer.remaining()];
        buffer.get(data);
        return new TokenStates(data, (int) shape[0], (int) shape[1], (int) shape[2], batch.mask());
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX backbone failed on a batch of " + batch.size() + ": " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  /** Size of each token state. */
  public int dimension() {
    return dimension;
  }

  /** The execution provider in use. */
  public ExecutionProvider provider() {
    return provider;
  }

  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException e) {
      log.warn("Closing ONNX session failed", e);
    }
  }
}
