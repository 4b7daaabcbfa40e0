package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.config.Settings;
import io.d2search.bundle.ModelBundle;
import io.d2search.distill.DistillPlan;
import io.d2search.distill.DistillReport;
import io.d2search.distill.DistillRun;
import io.d2search.distill.TrainerConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code distill}: trains a new student bundle from judged BEIR data ({@link DistillRun}): the options make a
 * {@link DistillPlan}, the settings and cache options the run's environment; each step's outcome is printed as the
 * run reaches it, then where the bundle went and its metrics.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
    description = "Distil the teacher into a new student bundle (PMA + IEM heads) from judged BEIR data.")
final class DistillCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Mixin DistillOptions options;

  @Mixin CacheOptions caches;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Settings settings = config.settings();
    DistillPlan plan;
    try {
      plan = options.plan(System.console() != null ? TrainerConfig.Progress.CONSOLE : TrainerConfig.Progress.LOG);
    } catch (IllegalArgumentException e) {
      throw badArgument(e.getMessage());
    }
    ModelBundle parent = Components.bundle(settings, options.parent() != null ? options.parent()
        : settings.string("model.version"));
    CacheOptions.Dirs dirs = caches.dirs(settings);
    DistillRun run = new DistillRun(new DistillRun.Environment(Components.embedder(settings),
        new DistillRun.Caches(dirs.vectors(), dirs.tokenStates()), settings.integer("index.hnsw.m"),
        settings.integer("index.hnsw.beam-width"),
        texts -> TeacherFactory.forDistill(settings, texts, TeacherFactory.cacheDir(settings))));
    DistillReport report;
    try {
      report = run.run(parent, plan, step -> System.out.println(step.describe()));
    } catch (DistillRun.Refused e) {
      throw badArgument(e.getMessage());
    }
    report.summary().forEach(System.out::println);
    return 0;
  }

  /** An argument error, printed with this command's usage on the command line's error stream. */
  private ParameterException badArgument(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
