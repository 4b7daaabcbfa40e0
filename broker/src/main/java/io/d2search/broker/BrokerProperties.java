package io.d2search.broker;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The configuration of a single-node, combined-mode (broker + controller) KRaft server. */
final class BrokerProperties {
  /** Node id of the only node; it is the broker and the only controller voter. */
  static final int NODE_ID = 1;
  static final String CONTROLLER_LISTENER = "CONTROLLER";
  static final String HOST = "127.0.0.1";
  /** The server gives up starting (and {@code startup()} returns with an error) after this long. */
  static final long MAX_STARTUP_MS = 60_000;

  private BrokerProperties() {}

  /**
   * Properties for {@code kafka.server.KafkaConfig}.
   *
   * @param logDir the only log dir; it also holds the metadata log
   * @param port the PLAINTEXT port clients connect to
   * @param controllerPort the CONTROLLER port of the KRaft quorum (this node alone)
   * @param overrides applied last, so callers can change any default below
   */
  static Map<String, String> combinedMode(Path logDir, int port, int controllerPort, Map<String, String> overrides) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("process.roles", "broker,controller");
    p.put("node.id", Integer.toString(NODE_ID));
    // A static one-voter quorum: nothing about the controller endpoint is written to disk, so a restart may use
    // another controller port.
    p.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
    p.put("controller.listener.names", CONTROLLER_LISTENER);
    p.put("listeners", "PLAINTEXT://" + HOST + ":" + port + "," + CONTROLLER_LISTENER + "://" + HOST + ":" + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + port);
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("log.dirs", logDir.toAbsolutePath().toString());
    p.put("server.max.startup.time.ms", Long.toString(MAX_STARTUP_MS));

    // One node: replication factor 1 everywhere, internal topics included (the defaults of 3 would make the
    // group and transaction coordinators wait forever for replicas).
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    p.put("num.partitions", "1");
    p.put("offsets.topic.replication.factor", "1");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    // Fewer internal partitions than the 50 defaults: faster first consumer group and first transaction.
    p.put("offsets.topic.num.partitions", "1");
    p.put("transaction.state.log.num.partitions", "1");
    p.put("share.coordinator.state.topic.num.partitions", "1");
    // Tests and the demo want a group to start at once, not after 3 s of waiting for more members.
    p.put("group.initial.rebalance.delay.ms", "0");

    // Compacted topics (passages, embeddings, model-releases) must be cleaned; check often, and keep the cleaner's
    // dedupe buffer small (the default allocates 128 MiB of heap up front).
    p.put("log.cleaner.enable", "true");
    p.put("log.cleaner.backoff.ms", "1000");
    p.put("log.cleaner.dedupe.buffer.size", Integer.toString(16 * 1024 * 1024));

    p.putAll(overrides);
    return p;
  }
}
