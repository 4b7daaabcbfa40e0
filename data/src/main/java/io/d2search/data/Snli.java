package io.d2search.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SNLI 1.0 (Stanford Natural Language Inference): premise/hypothesis pairs labelled entailment, neutral or
 * contradiction, for the symmetric branch (evaluation here; premise groups with hard negatives for training).
 *
 * <p>File format ({@code snli/snli_1.0_<split>.jsonl}): one JSON object per line with {@code gold_label},
 * {@code sentence1} (premise) and {@code sentence2} (hypothesis); other fields are ignored. Pairs whose gold label
 * is {@code "-"} (annotators reached no consensus) are left out by design, as is usual for SNLI. A line that is not
 * JSON, lacks a sentence or carries another label is skipped with a warning.
 */
public final class Snli {
  private static final Logger log = LoggerFactory.getLogger(Snli.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_LOGGED = 10;
  /** SNLI's gold label when annotators did not agree. */
  private static final String NO_CONSENSUS = "-";

  private Snli() {}

  /** SNLI's splits; the shared data holds (truncated) dev and test only. */
  public enum Split {
    TRAIN, DEV, TEST;

    /** {@code snli_1.0_train.jsonl}, {@code snli_1.0_dev.jsonl} or {@code snli_1.0_test.jsonl}. */
    public String fileName() {
      return "snli_1.0_" + name().toLowerCase(Locale.ROOT) + ".jsonl";
    }
  }

  /** Gold relation of the hypothesis to the premise. */
  public enum Label {
    ENTAILMENT, NEUTRAL, CONTRADICTION;

    /** The label as SNLI writes it: {@code entailment}, {@code neutral}, {@code contradiction}. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException for anything but the three labels */
    public static Label fromId(String id) {
      for (Label label : values()) {
        if (label.id().equals(id)) {
          return label;
        }
      }
      throw new IllegalArgumentException("unknown SNLI label '" + id + "'");
    }
  }

  /** One labelled pair. */
  public record Pair(String premise, String hypothesis, Label label) {
    public Pair {
      Objects.requireNonNull(premise, "premise");
      Objects.requireNonNull(hypothesis, "hypothesis");
      Objects.requireNonNull(label, "label");
    }
  }

  /**
   * The hypotheses written for one premise, by gold label, in file order. For training: the entailed hypotheses are
   * positives, the contradicted and neutral ones hard negatives. SNLI's writers gave each caption one hypothesis per
   * label, but the gold label is the annotators' majority, so a group may hold two entailed and no neutral one (in
   * the shared dev copy 330 of 427 premises keep exactly one of each); any list may be empty, also when a
   * hypothesis without consensus was dropped. A premise text shared by two captions gathers both captions'
   * hypotheses.
   */
  public record Group(String premise, List<String> entailed, List<String> neutral, List<String> contradicted) {
    public Group {
      Objects.requireNonNull(premise, "premise");
      entailed = List.copyOf(entailed);
      neutral = List.copyOf(neutral);
      contradicted = List.copyOf(contradicted);
    }

    /** Contradicted then neutral hypotheses: the pairs a model should score below the entailed ones. */
    public List<String> hardNegatives() {
      List<String> all = new ArrayList<>(contradicted);
      all.addAll(neutral);
      return List.copyOf(all);
    }
  }

  /** {@code sharedData/snli/snli_1.0_<split>.jsonl}. */
  public static Path file(Path sharedData, Split split) {
    return sharedData.resolve("snli").resolve(split.fileName());
  }

  /**
   * The labelled pairs of a file, in file order, without the no-consensus ones; malformed lines are skipped and
   * logged.
   *
   * @return an immutable list
   * @throws IllegalArgumentException if the file does not exist
   */
  public static List<Pair> load(Path file) {
    return read(file).records();
  }

  /** As {@link #load}, with the number of malformed lines skipped (no-consensus pairs are not counted). */
  public static Loaded<Pair> read(Path file) {
    List<Pair> pairs = new ArrayList<>();
    int skipped = 0;
    try (BufferedReader in = DataFiles.open(file)) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        String problem;
        try {
          problem = parse(JSON.readTree(line), pairs);
        } catch (JsonProcessingException e) {
          problem = "not valid JSON: " + e.getOriginalMessage();
        }
        if (problem != null && ++skipped <= MAX_LOGGED) {
          log.warn("{}:{}: skipped malformed SNLI line ({})", file, lineNo, problem);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + file, e);
    }
    if (skipped > MAX_LOGGED) {
      log.warn("{}: skipped {} malformed SNLI lines in all ({} shown)", file, skipped, MAX_LOGGED);
    }
    return new Loaded<>(pairs, skipped);
  }

  /** Adds the line's pair unless it has no consensus; returns why the line is malformed, or null. */
  private static String parse(JsonNode n, List<Pair> pairs) {
    JsonNode label = n.get("gold_label");
    JsonNode premise = n.get("sentence1");
    JsonNode hypothesis = n.get("sentence2");
    if (label == null || !label.isTextual()) {
      return "no gold_label";
    }
    if (premise == null || !premise.isTextual() || premise.asText().isBlank()
        || hypothesis == null || !hypothesis.isTextual() || hypothesis.asText().isBlank()) {
      return "sentence1 or sentence2 missing or empty";
    }
    if (label.asText().equals(NO_CONSENSUS)) {
      return null;
    }
    try {
      pairs.add(new Pair(premise.asText().strip(), hypothesis.asText().strip(), Label.fromId(label.asText())));
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /** Pairs grouped by premise text, groups in order of first appearance. */
  public static List<Group> byPremise(List<Pair> pairs) {
    Map<String, Map<Label, List<String>>> groups = new LinkedHashMap<>();
    for (Pair p : pairs) {
      groups.computeIfAbsent(p.premise(), k -> new EnumMap<>(Label.class))
          .computeIfAbsent(p.label(), k -> new ArrayList<>()).add(p.hypothesis());
    }
    List<Group> out = new ArrayList<>(groups.size());
    groups.forEach((premise, byLabel) -> out.add(new Group(premise,
        byLabel.getOrDefault(Label.ENTAILMENT, List.of()), byLabel.getOrDefault(Label.NEUTRAL, List.of()),
        byLabel.getOrDefault(Label.CONTRADICTION, List.of()))));
    return List.copyOf(out);
  }
}
