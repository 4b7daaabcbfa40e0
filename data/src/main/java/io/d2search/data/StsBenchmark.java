package io.d2search.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The STS Benchmark (English): sentence pairs with a gold similarity in [0, 5], for the symmetric (STS) branch.
 *
 * <p>File format ({@code stsb/stsbenchmark.tsv.gz} in the shared data): tab-separated, a header line, then
 * {@code split, genre, dataset, year, sid, score, sentence1, sentence2}. Quotes are ordinary characters, not CSV
 * quoting: STS-B sentences contain unbalanced ones (e.g. {@code "Then the captain was gone.}), so the fields are
 * split on tabs only and kept verbatim apart from surrounding whitespace. Some distributions of STS-B carry extra
 * trailing fields (source annotations) after {@code sentence2}; they are ignored. A line with fewer than eight
 * fields, an unknown split, a score that is not a number in [0, 5] or an empty sentence is skipped with a warning.
 */
public final class StsBenchmark {
  /** Where the file lies under the shared data directory. */
  public static final String RELATIVE_PATH = "stsb/stsbenchmark.tsv.gz";

  private static final Logger log = LoggerFactory.getLogger(StsBenchmark.class);
  private static final int FIELDS = 8;
  private static final int MAX_LOGGED = 10;

  private StsBenchmark() {}

  /** The three splits: 5,749 train, 1,500 dev and 1,379 test pairs in the standard release. */
  public enum Split {
    TRAIN, DEV, TEST;

    /** The name in the file's first column: {@code train}, {@code dev} or {@code test}. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * One scored pair. The order of the two sentences carries no meaning.
   *
   * @param score gold similarity, 0 (unrelated) to 5 (equivalent)
   */
  public record Pair(String sentence1, String sentence2, double score) {
    public Pair {
      Objects.requireNonNull(sentence1, "sentence1");
      Objects.requireNonNull(sentence2, "sentence2");
      if (!(score >= 0 && score <= 5)) {
        throw new IllegalArgumentException("STS score must be in [0, 5]: " + score);
      }
    }
  }

  /** {@code sharedData/stsb/stsbenchmark.tsv.gz}. */
  public static Path file(Path sharedData) {
    return sharedData.resolve(RELATIVE_PATH);
  }

  /**
   * The pairs of one split, in file order; malformed lines are skipped and logged.
   *
   * @param file the TSV, gzip-compressed when its name ends in {@code .gz}
   * @return an immutable list
   * @throws IllegalArgumentException if the file does not exist
   */
  public static List<Pair> load(Path file, Split split) {
    return read(file, split).records();
  }

  /** As {@link #load}, with the number of malformed lines skipped (over the whole file, not just this split). */
  public static Loaded<Pair> read(Path file, Split split) {
    Objects.requireNonNull(split, "split");
    List<Pair> pairs = new ArrayList<>();
    int skipped = 0;
    int extraFields = 0;
    try (BufferedReader in = DataFiles.open(file)) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank() || (lineNo == 1 && line.startsWith("split\t"))) {
          continue;
        }
        // limit -1 keeps trailing empty fields, so an empty sentence2 is seen as empty, not missing
        String[] f = line.split("\t", -1);
        String problem = problem(f);
        if (problem != null) {
          if (++skipped <= MAX_LOGGED) {
            log.warn("{}:{}: skipped malformed STS-B line ({})", file, lineNo, problem);
          }
          continue;
        }
        if (f.length > FIELDS) {
          extraFields++;
        }
        if (f[0].strip().equals(split.id())) {
          pairs.add(new Pair(f[6].strip(), f[7].strip(), Double.parseDouble(f[5].strip())));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + file, e);
    }
    if (skipped > MAX_LOGGED) {
      log.warn("{}: skipped {} malformed STS-B lines in all ({} shown)", file, skipped, MAX_LOGGED);
    }
    if (extraFields > 0) {
      log.warn("{}: {} STS-B lines had fields after sentence2; they were ignored", file, extraFields);
    }
    return new Loaded<>(pairs, skipped);
  }

  /** Why the fields are not a valid pair, or null when they are. */
  private static String problem(String[] f) {
    if (f.length < FIELDS) {
      return f.length + " fields, expected " + FIELDS;
    }
    String split = f[0].strip();
    if (!split.equals("train") && !split.equals("dev") && !split.equals("test")) {
      return "unknown split '" + split + "'";
    }
    double score;
    try {
      score = Double.parseDouble(f[5].strip());
    } catch (NumberFormatException e) {
      return "score '" + f[5] + "' is not a number";
    }
    if (!(score >= 0 && score <= 5)) {
      return "score " + score + " outside [0, 5]";
    }
    if (f[6].isBlank() || f[7].isBlank()) {
      return "empty sentence";
    }
    return null;
  }
}
