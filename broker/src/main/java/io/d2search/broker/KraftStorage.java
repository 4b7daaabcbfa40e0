package io.d2search.broker;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.metadata.storage.Formatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Formats a KRaft log dir, what {@code kafka-storage.sh format} does, unless it is formatted already. */
final class KraftStorage {
  private static final Logger log = LoggerFactory.getLogger(KraftStorage.class);

  /** Written by the formatter; its presence means the dir belongs to a cluster already. */
  static final String META_PROPERTIES = "meta.properties";

  private KraftStorage() {}

  /** Whether {@code logDir} was formatted before. */
  static boolean isFormatted(Path logDir) {
    return Files.isRegularFile(logDir.resolve(META_PROPERTIES));
  }

  /**
   * Formats {@code logDir} for a new single-node cluster with a random cluster id, unless it is formatted: a
   * restarted broker must keep its cluster id, topics and data.
   *
   * @return whether the dir was formatted now
   */
  static boolean formatIfNeeded(Path logDir) throws Exception {
    if (isFormatted(logDir)) {
      return false;
    }
    Files.createDirectories(logDir);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    String clusterId = Uuid.randomUuid().toString();
    new Formatter()
        .setPrintStream(new PrintStream(out, true, StandardCharsets.UTF_8)) // Formatter prints to stdout by default
        .setNodeId(BrokerProperties.NODE_ID)
        .setClusterId(clusterId)
        .addDirectory(logDir.toString())
        .setMetadataLogDirectory(logDir.toString())
        .setControllerListenerName(BrokerProperties.CONTROLLER_LISTENER)
        .run();
    log.debug("Formatted {} for cluster {}: {}", logDir, clusterId, out.toString(StandardCharsets.UTF_8).strip());
    return true;
  }
}
