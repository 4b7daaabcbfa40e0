/**
 * Teachers for D2LLM distillation: a relevance in {@code [0, 1]} per (query, passage), with the meaning of an LLM
 * asked "does the passage answer the question? yes/no" ({@code softmax([z_yes, z_no] / T)[0]}).
 *
 * <ul>
 *   <li>{@link io.d2search.teach.Teacher}: the interface every back-end implements; {@link
 *       io.d2search.teach.FeatureTeacher} adds per-pair features for feature imitation.</li>
 *   <li>{@link io.d2search.teach.LlmHttpTeacher}: an OpenAI-compatible completion server (vLLM, llama.cpp
 *       server) returning token log-probabilities.</li>
 *   <li>{@link io.d2search.teach.OnnxCrossEncoderTeacher}: any sequence-classification cross-encoder in ONNX.</li>
 *   <li>{@link io.d2search.teach.EnsembleTeacher}: the offline default, bge-small-en-v1.5 + e5-small-v2 + BM25,
 *       fused and calibrated on SciFact train ({@link io.d2search.teach.TeacherBench} fits and measures it).</li>
 *   <li>{@link io.d2search.teach.CachedTeacher}: scores kept in RocksDB by (teacher id, query, passage), so a
 *       refresh never pays twice for a pair.</li>
 * </ul>
 */
package io.d2search.teach;
