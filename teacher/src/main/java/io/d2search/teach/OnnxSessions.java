package io.d2search.teach;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import io.d2search.embed.ExecutionProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates ONNX Runtime sessions on the CPU or CUDA, as the model module's backbone does. */
final class OnnxSessions {
  private static final Logger log = LoggerFactory.getLogger(OnnxSessions.class);

  private OnnxSessions() {}

  /** A session and the provider it actually runs on. */
  record Created(OrtSession session, ExecutionProvider provider) {}

  static Created create(String what, byte[] onnx, int intraOpThreads, ExecutionProvider requested) {
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
          log.debug("CUDA not used for {}: {}", what, why);
        }
      }
      OrtSession session = env.createSession(onnx, options);
      log.info("{} runs on {} (ONNX Runtime {})", what, used, env.getVersion());
      return new Created(session, used);
    } catch (OrtException e) {
      throw new IllegalStateException("Cannot create ONNX Runtime session for " + what + ": " + e.getMessage(), e);
    }
  }
}
