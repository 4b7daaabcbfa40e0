package io.d2search.embed;

/** Where ONNX Runtime runs the backbone. */
public enum ExecutionProvider {
  /** Always the CPU. */
  CPU,
  /** CUDA; startup fails if the CUDA provider cannot be loaded. */
  CUDA,
  /** CUDA when the runtime and a GPU are present, else the CPU (one log line says which). */
  AUTO
}
