package io.d2search.broker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.lifecycle.Startables;
import org.testcontainers.utility.DockerImageName;

/**
 * A KRaft Kafka cluster in containers of the locally built broker image ({@code deploy/images/build.sh}): every
 * node is broker and controller, the three voters form the quorum, and the cluster replicates like production
 * (replication factor {@value #REPLICATION_FACTOR}, {@code min.insync.replicas} {@value #MIN_INSYNC_REPLICAS},
 * internal topics included).
 *
 * <p>Each node has two client listeners: {@code INTERNAL} on the containers' network (brokers replicate over it, and
 * other containers bootstrap from {@link #internalBootstrapServers()}), and {@code EXTERNAL} on a host port picked
 * before the container starts and bound to the same port inside it, so that the address a node advertises is right
 * from its first start and stays right when the node is {@linkplain #stop(int) stopped} and {@linkplain #start(int)
 * started} again (its log directory survives: it rejoins as the same node).
 *
 * <p>No image is ever pulled: an image missing locally fails at once with the command that builds it.
 */
public final class KafkaCluster implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KafkaCluster.class);

  /** Replication factor of every topic, internal ones included, unless a topic says otherwise. */
  public static final short REPLICATION_FACTOR = 3;
  /** Writes with {@code acks=all} need this many in-sync replicas: one node may be down. */
  public static final int MIN_INSYNC_REPLICAS = 2;
  /** A 22-character base64 UUID, as {@code kafka-storage format} wants. */
  private static final String CLUSTER_ID = "ZDJzZWFyY2gtdGVzdC1rYQ";
  private static final int INTERNAL_PORT = 9092;
  private static final int CONTROLLER_PORT = 9093;
  private static final Duration STARTUP_TIMEOUT = Duration.ofMinutes(3);

  private final Network network;
  private final List<GenericContainer<?>> nodes;
  private final List<Integer> hostPorts;

  private KafkaCluster(Network network, List<GenericContainer<?>> nodes, List<Integer> hostPorts) {
    this.network = network;
    this.nodes = nodes;
    this.hostPorts = hostPorts;
  }

  /** Starts {@code size} nodes of {@code image} in parallel and returns once every one has started. */
  public static KafkaCluster start(String image, int size) {
    Objects.requireNonNull(image, "image");
    if (size < REPLICATION_FACTOR) {
      throw new IllegalArgumentException("a cluster replicating " + REPLICATION_FACTOR + " times needs that many nodes");
    }
    requireLocalImage(image);
    long startNanos = System.nanoTime();
    Network network = Network.newNetwork();
    List<Integer> ports = freePorts(size);
    String voters = IntStream.rangeClosed(1, size)
        .mapToObj(id -> id + "@" + alias(id) + ":" + CONTROLLER_PORT)
        .collect(Collectors.joining(","));
    List<GenericContainer<?>> nodes = new ArrayList<>();
    for (int id = 1; id <= size; id++) {
      nodes.add(node(image, network, id, ports.get(id - 1), voters));
    }
    KafkaCluster cluster = new KafkaCluster(network, nodes, ports);
    try {
      // In parallel: a node finishes starting only once a majority of the voters is up.
      Startables.deepStart(nodes).join();
    } catch (RuntimeException e) {
      cluster.close();
      throw new IllegalStateException("Kafka cluster of " + image + " did not start: " + e.getMessage(), e);
    }
    log.info("Kafka cluster of {} nodes ({}) on {} started in {} ms", size, image, cluster.bootstrapServers(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    return cluster;
  }

  private static GenericContainer<?> node(String image, Network network, int id, int hostPort, String voters) {
    String rf = Short.toString(REPLICATION_FACTOR);
    String minIsr = Integer.toString(MIN_INSYNC_REPLICAS);
    @SuppressWarnings("resource") // closed with the cluster
    GenericContainer<?> node = new GenericContainer<>(DockerImageName.parse(image))
        .withNetwork(network)
        .withNetworkAliases(alias(id))
        .withEnv("CLUSTER_ID", CLUSTER_ID)
        .withEnv("KAFKA_NODE_ID", Integer.toString(id))
        .withEnv("KAFKA_PROCESS_ROLES", "broker,controller")
        .withEnv("KAFKA_CONTROLLER_QUORUM_VOTERS", voters)
        .withEnv("KAFKA_LISTENERS",
            "INTERNAL://:" + INTERNAL_PORT + ",EXTERNAL://:" + hostPort + ",CONTROLLER://:" + CONTROLLER_PORT)
        .withEnv("KAFKA_ADVERTISED_LISTENERS",
            "INTERNAL://" + alias(id) + ":" + INTERNAL_PORT + ",EXTERNAL://localhost:" + hostPort)
        .withEnv("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT")
        .withEnv("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL")
        .withEnv("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .withEnv("KAFKA_DEFAULT_REPLICATION_FACTOR", rf)
        .withEnv("KAFKA_MIN_INSYNC_REPLICAS", minIsr)
        .withEnv("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", rf)
        .withEnv("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", rf)
        .withEnv("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", minIsr)
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", rf)
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", minIsr)
        // Like the embedded broker (BrokerProperties): few internal partitions, no rebalance delay, a cleaner that
        // compacts soon.
        .withEnv("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "3")
        .withEnv("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS", "1")
        .withEnv("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .withEnv("KAFKA_LOG_CLEANER_BACKOFF_MS", "1000")
        .withEnv("KAFKA_HEAP_OPTS", "-Xms128m -Xmx384m")
        .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
            new PortBinding(Ports.Binding.bindPort(hostPort), new ExposedPort(hostPort))))
        .withExposedPorts(hostPort)
        .waitingFor(Wait.forLogMessage(".*Kafka Server started.*", 1).withStartupTimeout(STARTUP_TIMEOUT));
    return node;
  }

  private static String alias(int id) {
    return "kafka-" + id;
  }

  /** Whether the local engine has {@code image}; never pulls it. */
  public static boolean imagePresent(String image) {
    if (image == null || image.isBlank()) {
      return false;
    }
    try {
      DockerClientFactory.instance().client().inspectImageCmd(image).exec();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static void requireLocalImage(String image) {
    if (!imagePresent(image)) {
      throw new IllegalStateException("image " + image + " is not in the local Docker engine (no registry is "
          + "used): build it with deploy/images/build.sh");
    }
  }

  private static List<Integer> freePorts(int n) {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        sockets.add(new ServerSocket(0));
      }
      return sockets.stream().map(ServerSocket::getLocalPort).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (ServerSocket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // only a probe
        }
      }
    }
  }

  /** {@code bootstrap.servers} for clients on the host: every node's external listener. */
  public String bootstrapServers() {
    return hostPorts.stream().map(p -> "localhost:" + p).collect(Collectors.joining(","));
  }

  /** {@code bootstrap.servers} for containers on {@link #network()}. */
  public String internalBootstrapServers() {
    return IntStream.rangeClosed(1, nodes.size())
        .mapToObj(id -> alias(id) + ":" + INTERNAL_PORT)
        .collect(Collectors.joining(","));
  }

  /** The containers' network, for clients that run in containers too. */
  public Network network() {
    return network;
  }

  /** The number of nodes. */
  public int size() {
    return nodes.size();
  }

  /** Stops node {@code id} (1-based) gracefully; its container and log directory stay for {@link #start(int)}. */
  public void stop(int id) {
    docker().stopContainerCmd(container(id)).withTimeout(30).exec();
  }

  /** Kills node {@code id} with SIGKILL, as a crash would. */
  public void kill(int id) {
    docker().killContainerCmd(container(id)).exec();
  }

  /** Starts a stopped or killed node {@code id} again; it rejoins with its own log directory. */
  public void start(int id) {
    docker().startContainerCmd(container(id)).exec();
  }

  private String container(int id) {
    if (id < 1 || id > nodes.size()) {
      throw new IllegalArgumentException("node ids are 1.." + nodes.size() + ": " + id);
    }
    return nodes.get(id - 1).getContainerId();
  }

  private static DockerClient docker() {
    return DockerClientFactory.instance().client();
  }

  /** Removes every node and the network. Calling it again does nothing. */
  @Override
  public void close() {
    for (GenericContainer<?> node : nodes) {
      try {
        node.stop();
      } catch (RuntimeException e) {
        log.warn("Removing {} failed", node.getContainerName(), e);
      }
    }
    nodes.clear();
    try {
      network.close();
    } catch (RuntimeException e) {
      log.warn("Removing the cluster's network failed", e);
    }
  }

  @Override
  public String toString() {
    return "Kafka cluster of " + nodes.size() + " nodes on " + bootstrapServers();
  }
}
