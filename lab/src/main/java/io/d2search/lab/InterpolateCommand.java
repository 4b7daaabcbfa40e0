package io.d2search.lab;

import io.d2search.app.Components;
import io.d2search.app.ConfigOptions;
import io.d2search.config.Settings;
import io.d2search.bundle.ModelBundle;
import io.d2search.distill.WeightInterpolation;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code interpolate}: a new bundle between two of one architecture, (1 − α)·from + α·to in every weight
 * ({@link WeightInterpolation}): WiSE-FT when {@code from} is version 0 and {@code to} a student tuned from it. No
 * training; seconds.
 */
@Command(name = "interpolate", mixinStandardHelpOptions = true,
    description = "Write a bundle whose weights are (1 - alpha) * FROM + alpha * TO (WiSE-FT: a tuned student "
        + "averaged with the bundle it started from). No training.")
final class InterpolateCommand implements Callable<Integer> {
  @Mixin ConfigOptions config;

  @Option(names = "--from", paramLabel = "VERSION", defaultValue = "0",
      description = "The start of the line, weight 1 - alpha (default: ${DEFAULT-VALUE}, the untuned backbone).")
  String from;

  @Option(names = "--to", paramLabel = "VERSION", required = true,
      description = "The end of the line, weight alpha: a student trained from --from.")
  String to;

  @Option(names = "--alpha", defaultValue = "0.5",
      description = "Weight of --to, in [0, 1] (default: ${DEFAULT-VALUE}, WiSE-FT's own default, chosen before any "
          + "evaluation).")
  double alpha;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "The new bundle's directory; its name is the version. Must not exist.")
  Path out;

  @Override
  public Integer call() {
    ModelBundle.requireWritable(out);
    Settings settings = config.settings();
    ModelBundle start = Components.bundle(settings, from);
    ModelBundle end = Components.bundle(settings, to);
    WeightInterpolation.Interpolated written = WeightInterpolation.write(start, end, alpha, out);
    System.out.printf(Locale.ROOT, "bundle %s written to %s: %.3f x bundle %s + %.3f x bundle %s (IEM: %s)%n",
        written.bundle().version(), out, 1 - alpha, start.version(), alpha, end.version(), written.iem().id());
    return 0;
  }
}
