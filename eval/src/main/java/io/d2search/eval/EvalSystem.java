package io.d2search.eval;

import java.util.Objects;

/**
 * What one row of an {@link EvalReport} measured. The report decides by these types, not by their labels, which
 * row is the baseline, which rows get a gap-closed figure (the students') and which are IEM re-ranks; {@link #label()}
 * is only the text the table prints.
 */
public sealed interface EvalSystem {

  /** The row's label in the results table. */
  String label();

  /** Whether the row is a student's (HNSW, exact or IEM re-rank): the rows a gap-closed figure is given for. */
  default boolean isStudent() {
    return false;
  }

  /** A model that embeds queries and passages into one vector each. */
  sealed interface Encoder {
    /** How rows of other kinds name it, e.g. {@code student v3}. */
    String name();

    /** How its dense rows name it, e.g. {@code student v3 (pma)}. */
    String label();
  }

  /** The bi-encoder backbone with mean pooling, no bundle: the reference every student starts from. */
  record BiEncoder(String backboneId) implements Encoder {
    public BiEncoder {
      Objects.requireNonNull(backboneId, "backboneId");
    }

    @Override
    public String name() {
      return "bi-encoder (" + backboneId + ", mean)";
    }

    @Override
    public String label() {
      return name();
    }
  }

  /**
   * The student of a model bundle.
   *
   * @param version the bundle's version
   * @param pooling its pooling ({@code ModelInfo#pooling}), e.g. {@code pma}
   */
  record Student(String version, String pooling) implements Encoder {
    public Student {
      Objects.requireNonNull(version, "version");
      Objects.requireNonNull(pooling, "pooling");
    }

    @Override
    public String name() {
      return "student v" + version;
    }

    @Override
    public String label() {
      return name() + " (" + pooling + ")";
    }
  }

  /**
   * A student whose queries are encoded by another backbone graph than its passages (the query service's
   * {@code search.query-encoder}), e.g. the int8-quantized one.
   *
   * @param passages the student that embedded the passages
   * @param queryBackbone the backbone graph of the query vectors, e.g. {@code all-minilm-l6-v2-q}
   */
  record QueryEncoder(Student passages, String queryBackbone) implements Encoder {
    public QueryEncoder {
      Objects.requireNonNull(passages, "passages");
      Objects.requireNonNull(queryBackbone, "queryBackbone");
    }

    @Override
    public String name() {
      return passages.name() + ", queries by " + queryBackbone;
    }

    @Override
    public String label() {
      return passages.label() + ", queries by " + queryBackbone;
    }
  }

  /** The keyword first stage as the query service serves it: Lucene BM25 over the passages' title and text. */
  record Keyword() implements EvalSystem {
    @Override
    public String label() {
      return "keyword: BM25 (Lucene, English analyzer)";
    }
  }

  /**
   * The hybrid first stage as the query service serves it: the encoder's HNSW list and the BM25 list, fused.
   *
   * @param encoder whose vectors
   * @param fusion how, e.g. {@code rrf k=60} ({@code Fusion}'s method and parameters)
   */
  record Hybrid(Encoder encoder, String fusion) implements EvalSystem {
    public Hybrid {
      Objects.requireNonNull(encoder, "encoder");
      Objects.requireNonNull(fusion, "fusion");
    }

    @Override
    public String label() {
      return encoder.name() + " hybrid (" + fusion + ")";
    }

    @Override
    public boolean isStudent() {
      return encoder instanceof Student;
    }
  }

  /** How a dense row searches its vectors. */
  enum Search {
    /** Through the query service's Lucene HNSW index. */
    HNSW("HNSW"),
    /** Brute force over every passage vector: what HNSW is measured against. */
    EXACT("exact");

    private final String label;

    Search(String label) {
      this.label = label;
    }
  }

  /** Dense retrieval with an encoder's vectors. */
  record Dense(Encoder encoder, Search search) implements EvalSystem {
    public Dense {
      Objects.requireNonNull(encoder, "encoder");
      Objects.requireNonNull(search, "search");
    }

    @Override
    public String label() {
      return encoder.label() + " " + search.label;
    }

    @Override
    public boolean isStudent() {
      return encoder instanceof Student;
    }
  }

  /**
   * A student's first-stage top {@code depth} re-ranked by its bundle's IEM, as the query service serves it.
   *
   * @param version the bundle's version
   * @param depth passages re-ranked per query
   * @param hybrid whether the first stage is hybrid (else HNSW)
   */
  record IemRerank(String version, int depth, boolean hybrid) implements EvalSystem {
    public IemRerank {
      Objects.requireNonNull(version, "version");
    }

    @Override
    public String label() {
      return "student v" + version + (hybrid ? " hybrid" : "") + " + IEM re-rank top-" + depth;
    }

    @Override
    public boolean isStudent() {
      return true;
    }
  }

  /**
   * The teacher re-ranking a first stage's top {@code depth}.
   *
   * @param depth documents re-ranked per query
   * @param firstStage the HNSW row whose candidates it re-ranks (the baseline)
   */
  record TeacherRerank(int depth, Dense firstStage) implements EvalSystem {
    public TeacherRerank {
      Objects.requireNonNull(firstStage, "firstStage");
    }

    @Override
    public String label() {
      return "teacher re-rank top-" + depth + " of " + firstStage.label();
    }
  }
}
