package io.d2search.lab;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layout's one-way rules, checked on the compiled main classes of every module (the lab's test class path
 * holds them all): serving never depends on the lab; the lab's evaluation and teachers carry no Kafka Streams and
 * no HTTP server; the index knows neither HTTP nor Streams. The app module's enforcer rule says the same of jars.
 */
class LayoutRulesTest {
  /** The serving side: what the serving jar and image run. */
  private static final String[] SERVING = {"io.d2search.config..", "io.d2search.schemas..", "io.d2search.events..", "io.d2search.embed..",
      "io.d2search.bundle..", "io.d2search.rank..", "io.d2search.nn..", "io.d2search.broker..",
      "io.d2search.ingest..", "io.d2search.indexer..", "io.d2search.feedback..", "io.d2search.index..",
      "io.d2search.serve..", "io.d2search.app.."};
  private static final String[] LAB = {"io.d2search.data..", "io.d2search.eval..", "io.d2search.teach..",
      "io.d2search.distill..", "io.d2search.loop..", "io.d2search.bench..", "io.d2search.lab.."};

  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.d2search");
    // The rules would hold vacuously over an empty import: every module's classes must be here.
    for (String name : new String[] {"io.d2search.serve.SearchService", "io.d2search.index.PassageIndex",
        "io.d2search.indexer.Indexer", "io.d2search.feedback.FeedbackJob", "io.d2search.app.Main", "io.d2search.eval.Evaluation",
        "io.d2search.teach.EnsembleTeacher", "io.d2search.distill.Trainer", "io.d2search.data.BeirDataset",
        "io.d2search.bench.TeacherBench", "io.d2search.lab.LabMain"}) {
      org.assertj.core.api.Assertions.assertThat(classes.contain(name)).as("imported %s", name).isTrue();
    }
  }

  @Test
  void servingNeverDependsOnTheLab() {
    noClasses().that().resideInAnyPackage(SERVING).should().dependOnClassesThat().resideInAnyPackage(LAB)
        .check(classes);
  }

  @Test
  void servingCarriesNoTrainingEngineNorTeacherCache() {
    noClasses().that().resideInAnyPackage(SERVING).should().dependOnClassesThat()
        .resideInAnyPackage("ai.djl.pytorch..", "ai.djl.ndarray..", "ai.djl.nn..", "ai.djl.training..",
            "ai.djl.engine..", "org.rocksdb..")
        .check(classes);
  }

  @Test
  void evaluationDataAndTeachersCarryNoStreamsAndNoHttpServer() {
    noClasses().that().resideInAnyPackage("io.d2search.eval..", "io.d2search.teach..", "io.d2search.data..")
        .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka.streams..", "io.javalin..",
            "io.d2search.indexer..", "io.d2search.serve..")
        .check(classes);
  }

  @Test
  void teachersDoNotDependOnEvaluation() {
    noClasses().that().resideInAPackage("io.d2search.teach..").should().dependOnClassesThat()
        .resideInAnyPackage("io.d2search.eval..", "io.d2search.distill..").check(classes);
  }

  @Test
  void theIndexKnowsNeitherHttpNorStreams() {
    noClasses().that().resideInAnyPackage("io.d2search.index..", "io.d2search.ingest..").should()
        .dependOnClassesThat().resideInAnyPackage("io.javalin..", "org.apache.kafka.streams..",
            "io.d2search.serve..", "io.d2search.indexer..")
        .check(classes);
  }

  /** The feedback join reads events and writes events: it knows neither the index, the model nor the services. */
  @Test
  void theFeedbackJoinDependsOnEventsAlone() {
    noClasses().that().resideInAPackage("io.d2search.feedback..").should().dependOnClassesThat()
        .resideInAnyPackage("io.d2search.index..", "io.d2search.embed..", "io.d2search.rank..",
            "io.d2search.serve..", "io.d2search.indexer..", "io.d2search.app..")
        .check(classes);
  }
}
