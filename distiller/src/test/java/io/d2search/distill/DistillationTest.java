package io.d2search.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.bundle.Manifest;
import io.d2search.bundle.ModelBundle;
import io.d2search.bundle.Safetensors;
import io.d2search.bundle.Tensor;
import io.d2search.bundle.TrainingWindow;
import io.d2search.embed.BackboneSource;
import io.d2search.embed.TextHash;
import io.d2search.rank.IemHead;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A whole run from a parent bundle to a new one, on the trainer's synthetic problem (16-d, so it is quick). */
@SuppressWarnings("unchecked")
class DistillationTest {
  private static final int D = 16;
  private static final TrainingWindow SYNTHETIC = new TrainingWindow("synthetic", null, null, null, null, null, null,
      null, null);
  /** A window that records nothing (what {@code Map.of()} was before the window was typed). */
  private static final TrainingWindow NO_WINDOW = TrainingWindow.fromMap(Map.of());

  @TempDir
  Path tmp;

  /** A PMA-only parent over a stand-in backbone file (bundles pin the backbone by checksum only). */
  private ModelBundle parent() throws IOException {
    byte[] onnx = new byte[1024];
    new Random(3).nextBytes(onnx);
    Path onnxFile = Files.write(tmp.resolve("backbone.onnx"), onnx);
    Path tokenizer = Files.writeString(tmp.resolve("tokenizer.json"), "{}");
    HeadsSpec pmaOnly = new HeadsSpec(D, 2, null, 32);
    Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, "0", null,
        Manifest.BackboneSpec.of(BackboneSource.files("stand-in", onnxFile, tokenizer), TextHash.sha256(onnx), 64), D,
        Manifest.PoolingSpec.pma(2), null, null, null, null, "1970-01-01T00:00:00Z");
    ModelBundle.write(tmp.resolve("bundles/0"), manifest, new TreeMap<>(StudentHeads.initialTensors(pmaOnly, 9)));
    return ModelBundle.load(tmp.resolve("bundles/0"));
  }

  private static TrainingSet set(List<TrainingExample> examples) {
    return new TrainingSet(examples, IntStream.range(0, examples.size()).mapToObj(i -> "q" + i).toList());
  }

  @Test
  void writesAVerifiedBundleThatRecordsItsTrainingAndBeatsTheParentOnHeldOutRanking() throws IOException {
    ModelBundle parent = parent();
    Random r = new Random(2024);
    TrainingSet train = set(TrainerTest.examples(r, 64));
    TrainingSet heldOut = set(TrainerTest.examples(r, 24));
    HeadsSpec spec = new HeadsSpec(D, 2, IemHead.Input.INTERACTION, 32);
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(8).withBatchSize(8).withLearningRate(3e-3)
        .withProgress(TrainerConfig.Progress.NONE).withSeed(5).withTrainPma(false);
    // From a random IEM, so that what the held-out metrics show is learnt (the cosine start already ranks this
    // synthetic problem's positives first, see below).
    TrainingWindow window = new TrainingWindow("synthetic", null, null, 88, null, null, null, null, null);
    Distillation.Result result = Distillation.run(parent, new Distillation.Plan("1", spec, trainer,
        LossConfig.d2llm(), "synthetic-teacher", window, null, IemInit.RANDOM),
        train, heldOut, tmp.resolve("bundles/1"));

    ModelBundle bundle = ModelBundle.load(tmp.resolve("bundles/1"));
    Manifest m = bundle.manifest();
    assertThat(m.version()).isEqualTo("1");
    assertThat(m.parent()).isEqualTo("0");
    assertThat(m.backbone()).isEqualTo(parent.manifest().backbone());
    assertThat(m.iem()).isEqualTo(Manifest.IemSpec.of(IemHead.Input.INTERACTION, 32));
    assertThat(m.training()).containsEntry("teacher", "synthetic-teacher").containsKeys("loss", "trainer", "data");
    assertThat(m.trainingWindow()).hasValue(window);
    assertThat(m.metrics()).containsKeys("heldOut.mrr.iem", "heldOut.mrr.teacher", "heldOut.loss.best");
    assertThat(bundle.iem()).isPresent();
    assertThat((double) m.metrics().get("heldOut.loss.best"))
        .isLessThan((double) m.metrics().get("heldOut.loss.before"));
    // The positive is the teacher's favourite; the IEM ranks it first far more often than chance (MRR 0.52 over
    // four candidates).
    assertThat((double) m.metrics().get("heldOut.mrr.iem")).isGreaterThan(0.75);
    assertThat(result.report().steps()).isPositive();
    assertThat(m.training()).containsEntry("iemInit", "random");

    // The interaction IEM's default start is the parent's cosine: far better than a random start before training.
    Distillation.Result cosine = Distillation.run(parent, new Distillation.Plan("2", spec, trainer.withEpochs(1),
        LossConfig.d2llm(), "synthetic-teacher", SYNTHETIC), train, heldOut,
        tmp.resolve("bundles/2"));
    Manifest m2 = cosine.bundle().manifest();
    assertThat(m2.training()).containsEntry("iemInit", "cosine");
    assertThat((double) m2.metrics().get("heldOut.loss.before"))
        .isLessThan((double) m.metrics().get("heldOut.loss.before"));
    assertThat((double) m2.metrics().get("heldOut.mrr.iem")).isGreaterThan(0.75);

    // A frozen PMA is the parent's, bit for bit.
    Map<String, Tensor> before = Safetensors.read(parent.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    Map<String, Tensor> after = Safetensors.read(bundle.directory().resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    before.forEach((name, t) -> assertThat(after.get(name).data()).as(name).containsExactly(t.data()));
  }

  @Test
  void theSymmetricStageTrainsItsBranchAloneAndLeavesSearchUnchanged() throws IOException {
    ModelBundle parent = parent();
    Random r = new Random(77);
    TrainingSet train = set(TrainerTest.examples(r, 32));
    TrainingSet heldOut = set(TrainerTest.examples(r, 8));
    TrainingSet simTrain = set(TrainerTest.examples(r, 32));
    TrainingSet simHeldOut = set(TrainerTest.examples(r, 8));
    HeadsSpec spec = new HeadsSpec(D, 2, IemHead.Input.INTERACTION, 32);
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(2).withBatchSize(8).withLearningRate(3e-3)
        .withProgress(TrainerConfig.Progress.NONE).withSeed(5);
    Distillation.run(parent, new Distillation.Plan("1", spec, trainer, LossConfig.d2llm(), "t", NO_WINDOW), train,
        heldOut, tmp.resolve("bundles/1"));
    Distillation.run(parent, new Distillation.Plan("2", spec, trainer, LossConfig.d2llm(), "t", NO_WINDOW,
        new Distillation.Similarity(simTrain, simHeldOut, trainer.withPatience(5), Map.of("source", "synthetic"))),
        train, heldOut, tmp.resolve("bundles/2"));

    Map<String, Tensor> searchOnly = Safetensors.read(tmp.resolve("bundles/1").resolve(ModelBundle.WEIGHTS_FILE))
        .tensors();
    Map<String, Tensor> both = Safetensors.read(tmp.resolve("bundles/2").resolve(ModelBundle.WEIGHTS_FILE)).tensors();
    searchOnly.forEach((name, t) -> {
      if (name.startsWith("iem.proj0.")) { // the symmetric branch (IemHead.Branch.SYMMETRIC.index() == 0)
        assertThat(both.get(name).data()).as(name).isNotEqualTo(t.data());
      } else {
        assertThat(both.get(name).data()).as(name).containsExactly(t.data());
      }
    });
    Map<String, Object> symmetric = (Map<String, Object>) ModelBundle.load(tmp.resolve("bundles/2")).manifest()
        .training().get("symmetric");
    assertThat((Map<String, Object>) symmetric.get("trainer")).containsEntry("branch", "symmetric")
        .containsEntry("trainPma", false).containsEntry("trainSharedIem", false);
  }

  @Test
  void aParentsIemIsInheritedOnlyByAnIemThatReadsTheSameInput() throws IOException {
    Random r = new Random(11);
    TrainerConfig trainer = TrainerConfig.defaults().withEpochs(1).withBatchSize(8)
        .withProgress(TrainerConfig.Progress.NONE).withSeed(5).withTrainPma(false);
    HeadsSpec concat = new HeadsSpec(D, 2, IemHead.Input.CONCAT, 32);
    Distillation.run(parent(), new Distillation.Plan("1", concat, trainer, LossConfig.d2llm(), "t", NO_WINDOW, null,
        IemInit.RANDOM), set(TrainerTest.examples(r, 16)), set(TrainerTest.examples(r, 8)), tmp.resolve("bundles/1"));
    ModelBundle withConcat = ModelBundle.load(tmp.resolve("bundles/1"));
    Map<String, Tensor> parentTensors = Safetensors.read(withConcat.directory().resolve(ModelBundle.WEIGHTS_FILE))
        .tensors();

    // interaction-only has concat's shapes (2d wide) but reads other blocks: its weights would mean something else.
    HeadsSpec only = new HeadsSpec(D, 2, IemHead.Input.INTERACTION_ONLY, 32);
    Map<String, Tensor> fresh = StudentHeads.initialTensors(only, 3, IemInit.COSINE);
    Map<String, Tensor> inherited = Distillation.inherit(withConcat, fresh, IemHead.Input.INTERACTION_ONLY);
    for (String name : IemBlock.NAMES) {
      assertThat(inherited.get(name).data()).as(name).containsExactly(fresh.get(name).data());
    }
    Map<String, Tensor> same = Distillation.inherit(withConcat, StudentHeads.initialTensors(concat, 3),
        IemHead.Input.CONCAT);
    for (String name : IemBlock.NAMES) {
      assertThat(same.get(name).data()).as(name).containsExactly(parentTensors.get(name).data());
    }
    assertThat(inherited.get(PmaBlock.SEED).data()).containsExactly(parentTensors.get(PmaBlock.SEED).data());
  }

  @Test
  void reciprocalRankCountsTiesAgainstThePositive() {
    assertThat(Distillation.reciprocalRankOfFirst(new double[] {3, 1, 2})).isEqualTo(1.0);
    assertThat(Distillation.reciprocalRankOfFirst(new double[] {1, 3, 2})).isEqualTo(1.0 / 3);
    assertThat(Distillation.reciprocalRankOfFirst(new double[] {1, 1, 1})).isEqualTo(1.0 / 3);
  }
}
