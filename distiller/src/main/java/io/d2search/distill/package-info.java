/**
 * D2LLM distillation: trains a student's PMA and IEM heads with DJL (PyTorch engine, CPU libtorch from Maven
 * Central, offline) over cached backbone token states, against teacher scores.
 *
 * <ul>
 *   <li>{@link io.d2search.distill.DistillRun}: the entry point, a whole distillation from judged BEIR data as a
 *       {@link io.d2search.distill.DistillPlan} says (what {@code distill} runs, and what a retraining loop calls),
 *       reporting each step to a listener and in its {@link io.d2search.distill.DistillReport}; it prints nothing.
 *   <li>{@link io.d2search.distill.Distillation}: training and writing one bundle from prepared training sets.
 *   <li>{@link io.d2search.distill.PmaBlock}, {@link io.d2search.distill.IemBlock}: the heads' forward in DJL
 *       operations, batched and differentiable, the exact math of {@code docs/d2llm-heads.md}; parity with the
 *       serving forward ({@code PmaHead}, {@code IemHead}) is tested to 1e-4.
 *   <li>{@link io.d2search.distill.StudentHeads}: the parameters, initialisation, and {@code heads.safetensors}
 *       I/O under the contract's tensor names.
 *   <li>{@link io.d2search.distill.Losses}, {@link io.d2search.distill.DistillationLoss},
 *       {@link io.d2search.distill.LossConfig}: in-batch InfoNCE, contrastive / rank / BPR / feature imitation,
 *       DisRanker's hybrid loss.
 *   <li>{@link io.d2search.distill.Trainer}: AdamW, warm-up and decay, clipping, early stopping, progress bar.
 *   <li>{@link io.d2search.distill.TokenStateCache}: backbone token states computed once, kept on disk.
 * </ul>
 *
 * <p>Start DJL through {@link io.d2search.distill.DjlRuntime} (offline switches, cache directory, threads).
 * Intermediate arrays of a step live in an {@code NDScope}; parameters live in the {@code NDManager} of their
 * {@code StudentHeads}. Constants enter the graph through {@link io.d2search.distill.Scalars}, never through
 * DJL's {@code mul/div(Number)} (a use-after-free in DJL 0.36 that yields NaN gradients after a GC).
 */
package io.d2search.distill;
