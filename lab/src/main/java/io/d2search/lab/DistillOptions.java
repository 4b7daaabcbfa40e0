package io.d2search.lab;

import io.d2search.distill.DistillPlan;
import io.d2search.distill.Distillation;
import io.d2search.distill.IemInit;
import io.d2search.distill.LossConfig;
import io.d2search.distill.PseudoQueries;
import io.d2search.distill.QuerySplit;
import io.d2search.distill.TrainerConfig;
import io.d2search.rank.IemHead;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/**
 * {@code distill}'s options: the words of a {@link DistillPlan} on the command line, and the plan they make.
 * Defaults are the recipe's (K = 15 with 12 index negatives across the top 100, an unseen held-out tenth, D2LLM's
 * loss, interaction-only IEM input).
 */
final class DistillOptions {
  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
  Path beir;

  @Option(names = "--split", defaultValue = "train", description = "Qrels split to train on (default: ${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "The new bundle's directory; its name is the version (e.g. .d2search/bundles/1). Must not exist.")
  Path out;

  @Option(names = "--parent", paramLabel = "VERSION",
      description = "Bundle to start from and mine negatives with (default: setting model.version).")
  String parent;

  @Option(names = "--negatives", defaultValue = "15", description = "Hard negatives per query, K (default: ${DEFAULT-VALUE}).")
  int negatives;

  @Option(names = "--dense-negatives", defaultValue = "12",
      description = "How many of the K come from the parent's HNSW index; the rest from BM25 (default: ${DEFAULT-VALUE}).")
  int denseNegatives;

  @Option(names = "--negative-depth", paramLabel = "N", defaultValue = "100",
      description = "Draw the index negatives across the parent's top N (one per equal stratum of ranks, seeded by "
          + "the query), the ranks the IEM re-ranks; N = --dense-negatives takes the top ones (default: "
          + "${DEFAULT-VALUE}).")
  int negativeDepth;

  @Option(names = "--held-out", defaultValue = "0.1",
      description = "Fraction of the queries held out for early stopping and the bundle's metrics (default: ${DEFAULT-VALUE}).")
  double heldOutFraction;

  @Option(names = "--held-out-kind", defaultValue = "UNSEEN", paramLabel = "unseen|random",
      converter = HeldOutKindConverter.class,
      description = "unseen: hold out only queries whose positives no other query has, so early stopping measures "
          + "ranking documents never seen as answers (what eval's unseen subset measures); random: any queries "
          + "(default: unseen).")
  QuerySplit.Kind heldOutKind;

  @Option(names = "--pseudo-queries", defaultValue = "0",
      description = "Also train on this many pseudo-queries: titles of randomly drawn corpus documents, each with its "
          + "own document as the positive, labelled by the teacher like the judged ones (default: ${DEFAULT-VALUE}). "
          + "They are not judgements: eval's unseen subset is derived from the judged split only.")
  int pseudoQueries;

  @Option(names = "--pseudo-query-kind", defaultValue = "title", paramLabel = "title|sentence",
      description = "What a pseudo-query is: the document's title, or the last sentence of its text of 8 to 40 words "
          + "(an abstract's conclusion reads like a claim) (default: ${DEFAULT-VALUE}).")
  String pseudoQueryKind;

  @Option(names = "--pseudo-positive", defaultValue = "own", paramLabel = "own|teacher",
      description = "A pseudo-query's positive: own (the document it was taken from) or teacher (that document is "
          + "left out of its list, K + 1 candidates are mined as for a judged query, and the one the teacher scores "
          + "highest is the positive: a claim's evidence is another paper, not the one stating it) (default: "
          + "${DEFAULT-VALUE}).")
  String pseudoPositive;

  @Option(names = "--judged-training", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train on the judged queries that are not held out; --no-judged-training trains on the "
          + "pseudo-queries alone and uses the judged queries only to hold out, so no judgement is ever a training "
          + "answer (default: ${DEFAULT-VALUE}).")
  boolean judgedTraining;

  @Option(names = "--symmetric", paramLabel = "DIR",
      description = "Then train the IEM's symmetric branch (PMA and shared IEM layers frozen) on STS-B train from this "
          + "data directory (stsb/stsbenchmark.tsv.gz), human grades as the teacher.")
  Path symmetric;

  @Option(names = "--symmetric-epochs", defaultValue = "4",
      description = "Most epochs of the symmetric stage (default: ${DEFAULT-VALUE}).")
  int symmetricEpochs;

  @Option(names = "--iem-input", defaultValue = "interaction-only",
      description = "IEM input: concat ([q, p]), interaction ([q, p, q*p, |q-p|]) or interaction-only ([q*p, |q-p|]: "
          + "no block reads p alone, so the IEM cannot learn a per-document prior) (default: ${DEFAULT-VALUE}).")
  String iemInput;

  @Option(names = "--iem-init", paramLabel = "cosine|random",
      description = "How a fresh IEM starts: cosine (its logit is 20·q·p until training adds to it, so an untrained "
          + "re-rank is the HNSW order; interaction inputs only) or random (PyTorch's default). Default: cosine for the "
          + "interaction inputs, random for concat. Ignored when the parent bundle has an IEM of the same shape.")
  String iemInit;

  @Option(names = "--loss", defaultValue = "d2llm", description = "d2llm or hybrid (default: ${DEFAULT-VALUE}).")
  String loss;

  @Option(names = "--loss-weights", paramLabel = "IN_BATCH,ALPHA,BETA,GAMMA,ETA",
      description = "Override the d2llm loss weights: in-batch InfoNCE, contrastive imitation, rank imitation, BPR, "
          + "feature imitation (default: D2LLM's 1,1,1,0.01,0.001). 0,0,1,0.01,0.001 learns from the teacher's "
          + "scores alone, never from which document was judged relevant.")
  String lossWeights;

  @Option(names = "--train-pma", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train the PMA too (a FULL release: the corpus must be re-embedded); --no-train-pma trains only "
          + "the IEM (default: ${DEFAULT-VALUE}).")
  boolean trainPma;

  @Option(names = "--train-iem", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Train the IEM too; --no-train-iem trains only the PMA, scored through the IEM as it starts (with "
          + "--iem-init cosine: 20·cosine, so the losses shape the vectors HNSW searches) (default: ${DEFAULT-VALUE}).")
  boolean trainIem;

  @Option(names = "--tune-layers", paramLabel = "N", defaultValue = "0",
      description = "Fine-tune the backbone's top N encoder layers with the heads (the layers below stay frozen, "
          + "their output cached); the bundle then carries its own ONNX graph. 0 keeps the backbone frozen "
          + "(default: ${DEFAULT-VALUE}).")
  int tuneLayers;

  @Option(names = "--memory-check", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "With --tune-layers, refuse a run whose estimated peak memory (activations at the backbone's "
          + "longest sequences) exceeds this machine's (default: ${DEFAULT-VALUE}).")
  boolean memoryCheck;

  @Option(names = "--backbone-learning-rate", paramLabel = "RATE", defaultValue = "3e-5",
      description = "Peak AdamW rate of the tuned backbone layers (default: ${DEFAULT-VALUE}).")
  double backboneLearningRate;

  @Option(names = "--backbone-heads", paramLabel = "H", defaultValue = "12",
      description = "Attention heads of the backbone's layers, for --tune-layers (default: ${DEFAULT-VALUE}, as in "
          + "all-MiniLM-L6-v2, bge-small and e5-small).")
  int backboneHeads;

  @Option(names = "--epochs", defaultValue = "10", description = "Most epochs (default: ${DEFAULT-VALUE}).")
  int epochs;

  @Option(names = "--batch-size", defaultValue = "32", description = "Queries per step (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--learning-rate", defaultValue = "1e-3", description = "Peak AdamW rate (default: ${DEFAULT-VALUE}).")
  double learningRate;

  @Option(names = "--seed", defaultValue = "0", description = "Seeds the held-out draw, initialisation and shuffling.")
  long seed;

  /** The bundle to start from: {@code --parent}, or null for the setting model.version. */
  String parent() {
    return parent;
  }

  /**
   * The plan these options make.
   *
   * @param progress where the trainer's progress goes
   * @throws IllegalArgumentException naming the option whose value is wrong, or two that do not go together
   */
  DistillPlan plan(TrainerConfig.Progress progress) {
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(epochs).withBatchSize(batchSize)
        .withLearningRate(learningRate).withSeed(seed).withTrainPma(trainPma).withTrainIem(trainIem)
        .withBackboneLearningRate(backboneLearningRate).withProgress(progress);
    return new DistillPlan(beir, split, out, new DistillPlan.Mining(negatives, denseNegatives, negativeDepth),
        new DistillPlan.HeldOut(heldOutFraction, heldOutKind), new PseudoQueries(pseudoQueries,
            PseudoQueries.Kind.fromId(pseudoQueryKind), PseudoQueries.Positive.fromId(pseudoPositive)),
        judgedTraining, symmetric == null ? null : new DistillPlan.Symmetric(symmetric, symmetricEpochs),
        IemHead.Input.fromId(iemInput), iemInit == null ? null : IemInit.fromId(iemInit),
        LossConfig.parse(loss, lossWeights), trainer,
        tuneLayers == 0 ? null : new Distillation.BackboneTuning(tuneLayers, backboneHeads), memoryCheck);
  }

  static final class HeldOutKindConverter implements ITypeConverter<QuerySplit.Kind> {
    @Override
    public QuerySplit.Kind convert(String value) {
      return QuerySplit.Kind.valueOf(value.strip().toUpperCase(Locale.ROOT));
    }
  }
}
