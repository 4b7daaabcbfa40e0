package io.d2search.lab;

import io.d2search.bench.ClickSimulator;
import io.d2search.data.BeirDataset;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code simulate-clicks}: judged queries searched and clicked over HTTP, as a position-based click model says. */
@Command(name = "simulate-clicks", mixinStandardHelpOptions = true,
    description = "Send the judged queries of a BEIR split to a running query service and click the results as "
        + "users would (position-based click model: examination 1/rank^eta, click probability by relevance, dwell "
        + "times), seeded and rate-limited: clicks with known truth for the retraining loop. Never use a test split "
        + "you will judge a model on.")
final class SimulateClicksCommand implements Callable<Integer> {
  @Option(names = "--beir", required = true, paramLabel = "DIR", description = "BEIR dataset directory.")
  Path beir;

  @Option(names = "--split", defaultValue = "train", description = "Qrels split whose queries are sent (default: "
      + "${DEFAULT-VALUE}).")
  String split;

  @Option(names = "--url", defaultValue = "http://localhost:8080",
      description = "Base URL of the query service (default: ${DEFAULT-VALUE}).")
  URI url;

  @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:D2SEARCH_TOKEN}",
      description = "Bearer token with the search and clicks rights, when the service has http.tokens.")
  String token;

  @Option(names = "--queries", paramLabel = "N", description = "Send only the first N queries (default: all).")
  Integer limit;

  @Option(names = "-k", defaultValue = "10", description = "Results per search (default: ${DEFAULT-VALUE}).")
  int k;

  @Option(names = "--eta", defaultValue = "1.0",
      description = "Examination decay: rank r is examined with probability 1/r^eta (default: ${DEFAULT-VALUE}).")
  double eta;

  @Option(names = "--click-relevant", defaultValue = "0.8",
      description = "Click probability of an examined relevant result (default: ${DEFAULT-VALUE}).")
  double clickRelevant;

  @Option(names = "--click-noise", defaultValue = "0.05",
      description = "Click probability of an examined non-relevant result (default: ${DEFAULT-VALUE}).")
  double clickNoise;

  @Option(names = "--qps", defaultValue = "20", description = "Searches per second at most (default: "
      + "${DEFAULT-VALUE}).")
  double qps;

  @Option(names = "--seed", defaultValue = "0", description = "Seeds the users' choices (default: ${DEFAULT-VALUE}).")
  long seed;

  @Override
  public Integer call() throws Exception {
    BeirDataset data = BeirDataset.load(beir, split);
    java.util.Map<String, String> queries = new java.util.LinkedHashMap<>();
    data.queries().entrySet().stream().filter(q -> data.qrels().containsKey(q.getKey()))
        .limit(limit == null ? Long.MAX_VALUE : limit).forEach(q -> queries.put(q.getKey(), q.getValue()));
    ClickSimulator.Plan plan = new ClickSimulator.Plan(queries, data.qrels(), k, eta, clickRelevant, clickNoise, qps,
        seed, token);
    ClickSimulator.Report report;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName("simulate-clicks").setInitialMax(queries.size())
        .setStyle(ProgressBarStyle.ASCII).setUnit(" queries", 1).build()) {
      report = new ClickSimulator(url).run(plan, bar::stepTo);
    }
    System.out.println(report.summary());
    return report.failed() == 0 ? 0 : 1;
  }
}
