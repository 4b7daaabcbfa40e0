/**
 * The two building blocks of the student heads, {@link io.d2search.nn.Linear} and {@link io.d2search.nn.LayerNorm},
 * in PyTorch's conventions so weights trained by the distiller load unchanged. Immutable and thread-safe.
 */
package io.d2search.nn;
