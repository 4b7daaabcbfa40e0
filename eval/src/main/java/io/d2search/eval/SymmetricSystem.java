package io.d2search.eval;

import java.util.Objects;

/** What one row of the symmetric-task table ({@link SymmetricEvaluation}) scored pairs with. */
public sealed interface SymmetricSystem {

  /** The row's label in the table. */
  String label();

  /** Cosine similarity of an encoder's vectors. */
  record Cosine(EvalSystem.Encoder encoder) implements SymmetricSystem {
    public Cosine {
      Objects.requireNonNull(encoder, "encoder");
    }

    @Override
    public String label() {
      return encoder.name() + " cosine";
    }
  }

  /** A student bundle's IEM on its symmetric branch, on the student's own vectors. */
  record IemSymmetric(String version) implements SymmetricSystem {
    public IemSymmetric {
      Objects.requireNonNull(version, "version");
    }

    @Override
    public String label() {
      return "student v" + version + " IEM (symmetric branch)";
    }
  }
}
