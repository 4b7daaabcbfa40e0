package io.d2search.embed;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates ONNX Runtime sessions on the CPU or CUDA: the one place the CUDA provider is requested and the CPU
 * fallback decided (the backbone, cross-encoder teachers and any other ONNX model go through it).
 */
public final class OnnxSessions {
  private static final Logger log = LoggerFactory.getLogger(OnnxSessions.class);

  private OnnxSessions() {}

  /** A session and the provider it actually runs on. */
  public record Created(OrtSession session, ExecutionProvider provider) {}

  /**
   * @param what names the model in logs and errors
   * @param intraOpThreads 0 lets ONNX Runtime choose
   * @param requested CPU, CUDA (fail if unavailable) or AUTO (CUDA when present, else CPU, logged once)
   */
  public static Created create(String what, byte[] onnx, int intraOpThreads, ExecutionProvider requested) {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    ExecutionProvider used = ExecutionProvider.CPU;
    try {
      // Not closed: like the model module's backbone, the options live as long as the process (one per session).
      OrtSession.SessionOptions options = new OrtSession.SessionOptions();
      options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (intraOpThreads > 0) {
        options.setIntraOpNumThreads(intraOpThreads);
      }
      if (requested != ExecutionProvider.CPU) {
        String why = "this ONNX Runtime build has no CUDA provider (build with -Pcuda)";
        if (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
          try {
            options.addCUDA(0);
            used = ExecutionProvider.CUDA;
          } catch (OrtException | RuntimeException e) {
            why = "the CUDA provider failed to load: " + e.getMessage();
          }
        }
        if (used != ExecutionProvider.CUDA) {
          if (requested == ExecutionProvider.CUDA) {
            throw new IllegalStateException("CUDA was requested for " + what + " but " + why);
          }
          log.info("CUDA not used for {}: {}", what, why);
        }
      }
      OrtSession session = env.createSession(onnx, options);
      log.info("{} runs on {} (ONNX Runtime {}, intra-op threads {})", what, used, env.getVersion(),
          intraOpThreads == 0 ? "auto" : intraOpThreads);
      return new Created(session, used);
    } catch (OrtException e) {
      throw new IllegalStateException("Cannot create ONNX Runtime session for " + what + ": " + e.getMessage(), e);
    }
  }
}
