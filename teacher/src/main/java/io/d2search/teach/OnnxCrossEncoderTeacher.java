package io.d2search.teach;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.util.PairList;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.d2search.embed.ExecutionProvider;
import io.d2search.embed.OnnxSessions;
import io.d2search.embed.TextHash;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * A sequence-classification cross-encoder run by ONNX Runtime as a teacher: query and passage are tokenized as a
 * pair ({@code [CLS] query [SEP] passage [SEP]} for BERT-style tokenizers, token type 0 then 1), truncated
 * longest-first to {@code maxTokens}, and the model's {@code logits [batch, C]} become a relevance: the sigmoid
 * when {@code C = 1}, else the softmax probability of class {@code positiveIndex}; logits are divided by the
 * temperature first.
 *
 * <p>The graph is checked at construction: it must take {@code input_ids} and {@code attention_mask} (and may take
 * {@code token_type_ids}), all int64, and nothing else, and give a rank-2 float {@code logits}; a wrong model
 * fails with a message listing what it has.
 *
 * <p>Thread-safe (ONNX Runtime sessions and the tokenizer may be used concurrently). {@link #close()} closes the
 * session and tokenizer it created.
 */
public final class OnnxCrossEncoderTeacher implements Teacher {
  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";
  static final String LOGITS = "logits";

  static {
    // As the model module's tokenizer does: no "call home", natives from the jar only.
    if (System.getProperty("OPT_OUT_TRACKING") == null) {
      System.setProperty("OPT_OUT_TRACKING", "true");
    }
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }

  private final CrossEncoderConfig config;
  private final HuggingFaceTokenizer tokenizer;
  private final OrtSession session;
  private final ExecutionProvider provider;
  private final boolean wantsTokenTypes;
  private final int classes;
  private final String id;

  private OnnxCrossEncoderTeacher(CrossEncoderConfig config, HuggingFaceTokenizer tokenizer, OrtSession session,
      ExecutionProvider provider, String sha256) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.session = session;
    this.provider = provider;
    Map<String, NodeInfo> inputs;
    Map<String, NodeInfo> outputs;
    try {
      inputs = session.getInputInfo();
      outputs = session.getOutputInfo();
    } catch (OrtException e) {
      throw new IllegalStateException("Cannot read the inputs and outputs of " + config.onnx(), e);
    }
    Set<String> allowed = Set.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS);
    if (!inputs.containsKey(INPUT_IDS) || !inputs.containsKey(ATTENTION_MASK)
        || !allowed.containsAll(inputs.keySet())) {
      throw new IllegalArgumentException("cross-encoder " + config.onnx() + " must take " + INPUT_IDS + ", "
          + ATTENTION_MASK + " and optionally " + TOKEN_TYPE_IDS + "; it takes " + new TreeSet<>(inputs.keySet()));
    }
    for (NodeInfo in : inputs.values()) {
      if (!(in.getInfo() instanceof TensorInfo t) || t.type != OnnxJavaType.INT64) {
        throw new IllegalArgumentException("cross-encoder input " + in.getName() + " must be an int64 tensor: "
            + in.getInfo());
      }
    }
    this.wantsTokenTypes = inputs.containsKey(TOKEN_TYPE_IDS);
    NodeInfo out = outputs.get(LOGITS);
    if (out == null || !(out.getInfo() instanceof TensorInfo info) || info.getShape().length != 2
        || info.type != OnnxJavaType.FLOAT) {
      throw new IllegalArgumentException("cross-encoder " + config.onnx() + " must give a rank-2 float output "
          + LOGITS + " [batch, classes]; it gives " + outputs);
    }
    long c = info.getShape()[1];
    this.classes = (int) c; // -1 when the graph leaves it symbolic: checked on the first run
    if (c >= 2 && config.positiveIndex() >= c) {
      throw new IllegalArgumentException("positiveIndex " + config.positiveIndex() + " but the model has " + c
          + " classes");
    }
    this.id = String.format(Locale.ROOT, "onnx-ce:%s:sha256-%s:max=%d:pos=%d:T=%s", config.name(),
        sha256.substring(0, 16), config.maxTokens(), config.positiveIndex(), config.temperature());
  }

  /**
   * Loads the model and tokenizer named by the config.
   *
   * @throws UncheckedIOException if a file cannot be read
   * @throws IllegalArgumentException if the graph does not have the expected inputs and output
   */
  public static OnnxCrossEncoderTeacher create(CrossEncoderConfig config) {
    byte[] onnx;
    byte[] tokenizerJson;
    try {
      onnx = Files.readAllBytes(config.onnx());
      tokenizerJson = Files.readAllBytes(config.tokenizer());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read cross-encoder " + config.name(), e);
    }
    HuggingFaceTokenizer tokenizer = pairTokenizer(tokenizerJson, config.maxTokens(), config.name());
    OrtSession session = null;
    try {
      OnnxSessions.Created created = OnnxSessions.create("cross-encoder " + config.name(), onnx,
          config.intraOpThreads(), config.provider());
      session = created.session();
      return new OnnxCrossEncoderTeacher(config, tokenizer, session, created.provider(), TextHash.sha256(onnx));
    } catch (RuntimeException e) {
      tokenizer.close();
      if (session != null) {
        try {
          session.close();
        } catch (OrtException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  private static HuggingFaceTokenizer pairTokenizer(byte[] json, int maxTokens, String name) {
    // Our own truncation settings replace whatever tokenizer.json says (MiniLM's says 128); padding is done here.
    Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "longest_first",
        "maxLength", Integer.toString(maxTokens), "modelMaxLength", Integer.toString(maxTokens),
        "padding", "false");
    try {
      return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot load the tokenizer of " + name, e);
    }
  }

  /** {@code onnx-ce:<name>:sha256-<first 16 hex of the graph>:max=…:pos=…:T=…}. */
  @Override
  public String id() {
    return id;
  }

  /** The execution provider in use. */
  public ExecutionProvider provider() {
    return provider;
  }

  @Override
  public double[] score(String query, List<String> passages) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(passages, "passages");
    double[] out = new double[passages.size()];
    for (int from = 0; from < passages.size(); from += config.batchSize()) {
      int to = Math.min(passages.size(), from + config.batchSize());
      float[][] logits = logits(encode(query, passages.subList(from, to)));
      for (int i = 0; i < logits.length; i++) {
        out[from + i] = relevance(logits[i]);
      }
    }
    return out;
  }

  private double relevance(float[] logits) {
    double t = config.temperature();
    if (logits.length == 1) {
      return YesNoLogprobs.sigmoid(logits[0] / t);
    }
    if (config.positiveIndex() >= logits.length) {
      throw new TeacherException("positiveIndex " + config.positiveIndex() + " but the model gave "
          + logits.length + " logits");
    }
    double max = Double.NEGATIVE_INFINITY;
    for (float z : logits) {
      max = Math.max(max, z / t);
    }
    double sum = 0;
    for (float z : logits) {
      sum += Math.exp(z / t - max);
    }
    return Math.exp(logits[config.positiveIndex()] / t - max) / sum;
  }

  /**
   * Tokenizes (query, passage) pairs, truncated longest-first to {@code maxTokens}, zero-padded to the longest.
   * Package-private for tests.
   */
  Batch encode(String query, List<String> passages) {
    PairList<String, String> pairs = new PairList<>(passages.size());
    for (String p : passages) {
      pairs.add(query, Objects.requireNonNull(p, "passage"));
    }
    Encoding[] encodings = tokenizer.batchEncode(pairs);
    int width = 0;
    for (Encoding e : encodings) {
      width = Math.max(width, e.getIds().length);
    }
    long[][] ids = new long[encodings.length][width];
    long[][] mask = new long[encodings.length][width];
    long[][] types = new long[encodings.length][width];
    for (int i = 0; i < encodings.length; i++) {
      long[] src = encodings[i].getIds();
      if (src.length > config.maxTokens()) {
        throw new IllegalStateException("tokenizer did not truncate to " + config.maxTokens() + ": " + src.length);
      }
      System.arraycopy(src, 0, ids[i], 0, src.length);
      System.arraycopy(encodings[i].getAttentionMask(), 0, mask[i], 0, src.length);
      System.arraycopy(encodings[i].getTypeIds(), 0, types[i], 0, src.length);
    }
    return new Batch(ids, mask, types);
  }

  private float[][] logits(Batch batch) {
    if (batch.ids().length == 0) {
      return new float[0][];
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      inputs.put(INPUT_IDS, OnnxTensor.createTensor(env, batch.ids()));
      inputs.put(ATTENTION_MASK, OnnxTensor.createTensor(env, batch.mask()));
      if (wantsTokenTypes) {
        inputs.put(TOKEN_TYPE_IDS, OnnxTensor.createTensor(env, batch.typeIds()));
      }
      try (OrtSession.Result result = session.run(inputs)) {
        OnnxTensor out = (OnnxTensor) result.get(LOGITS).orElseThrow();
        long[] shape = out.getInfo().getShape();
        if (shape.length != 2 || shape[0] != batch.ids().length || (classes > 0 && shape[1] != classes)) {
          throw new TeacherException("cross-encoder " + config.name() + " gave logits of shape "
              + java.util.Arrays.toString(shape) + " for a batch of " + batch.ids().length);
        }
        return (float[][]) out.getValue();
      }
    } catch (OrtException e) {
      throw new TeacherException("cross-encoder " + config.name() + " failed on a batch of " + batch.ids().length
          + ": " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException("Closing the cross-encoder session failed", e);
    } finally {
      tokenizer.close();
    }
  }

  /** Token ids, attention mask and token type ids of a batch of pairs, each {@code [batch][width]}. */
  record Batch(long[][] ids, long[][] mask, long[][] typeIds) {}
}
