/**
 * Model bundles: immutable, checksummed directories that pin a backbone and the trained student heads
 * ({@link io.d2search.bundle.ModelBundle}, {@link io.d2search.bundle.Manifest}), and the float32 safetensors format
 * that holds the heads ({@link io.d2search.bundle.Safetensors}, names in {@link io.d2search.bundle.HeadTensors}).
 * The contract is docs/d2llm-heads.md.
 */
package io.d2search.bundle;
