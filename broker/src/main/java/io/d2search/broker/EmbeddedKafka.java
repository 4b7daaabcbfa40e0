package io.d2search.broker;

import io.d2search.schemas.TopicAdmin;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka cluster in this JVM: one KRaft server in combined mode (broker and controller), started
 * from the Maven Central jars, for the all-in-one demo and for integration tests.
 *
 * <p>It listens on {@code 127.0.0.1} only (PLAINTEXT for clients, a second port for the controller). Every
 * replication factor is 1, internal topics included, so consumer groups, transactions and Kafka Streams with
 * {@code exactly_once_v2} work. The log cleaner runs, so compacted topics are compacted.
 *
 * <p>The data dir is the broker's only log dir and must not be shared with anything else. It is formatted
 * (random cluster id) the first time; a later {@link #start} on the same dir keeps the cluster, its topics and
 * its records.
 *
 * <pre>{@code
 * try (EmbeddedKafka kafka = EmbeddedKafka.start(dir, 0)) {
 *   kafka.createTopics(List.of(new NewTopic("documents", 1, (short) 1)));
 *   props.put("bootstrap.servers", kafka.bootstrapServers());
 * }
 * }</pre>
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);

  /** How long {@link #start} waits for the broker to answer before it gives up. */
  public static final Duration STARTUP_TIMEOUT = Duration.ofMillis(BrokerProperties.MAX_STARTUP_MS);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration ADMIN_CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final KafkaRaftServer server;
  private final Admin admin;
  private final Path dataDir;
  private final int port;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedKafka(KafkaRaftServer server, Admin admin, Path dataDir, int port) {
    this.server = server;
    this.admin = admin;
    this.dataDir = dataDir;
    this.port = port;
  }

  /**
   * Starts a broker and returns once it answers clients.
   *
   * @param dataDir its log dir, created and formatted if it is not formatted yet
   * @param port the client (PLAINTEXT) port on 127.0.0.1; 0 picks a free one
   * @throws IllegalStateException if the broker cannot start or does not answer within {@link #STARTUP_TIMEOUT}
   */
  public static EmbeddedKafka start(Path dataDir, int port) {
    return start(dataDir, port, Map.of());
  }

  /**
   * Starts a broker with some broker configs changed, e.g. {@code log.cleaner.backoff.ms}.
   *
   * @param overrides broker configs applied over the defaults of this class
   * @see #start(Path, int)
   */
  public static EmbeddedKafka start(Path dataDir, int port, Map<String, String> overrides) {
    Objects.requireNonNull(dataDir, "dataDir");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0 (any free port) or a TCP port: " + port);
    }
    long startNanos = System.nanoTime();
    Path logDir = dataDir.toAbsolutePath();
    int clientPort = port == 0 ? freePort(-1) : port;
    int controllerPort = freePort(clientPort);
    boolean formatted;
    try {
      formatted = KraftStorage.formatIfNeeded(logDir);
    } catch (Exception e) {
      throw new IllegalStateException("Cannot format Kafka log dir " + logDir + ": " + e.getMessage(), e);
    }

    String bootstrap = BrokerProperties.HOST + ":" + clientPort;
    KafkaRaftServer server = null;
    Admin admin = null;
    boolean started = false;
    try {
      server = new KafkaRaftServer(
          new KafkaConfig(BrokerProperties.combinedMode(logDir, clientPort, controllerPort, overrides), false),
          Time.SYSTEM);
      server.startup(); // bounded by server.max.startup.time.ms
      admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
      awaitBroker(admin, startNanos + STARTUP_TIMEOUT.toNanos());
      started = true;
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "Embedded Kafka on " + bootstrap + " (data dir " + logDir + ") did not start: " + e.getMessage(), e);
    } finally {
      if (!started) {
        stopQuietly(server, admin);
      }
    }
    log.info("Kafka broker on {} started in {} ms ({} data dir {})", bootstrap,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), formatted ? "new" : "existing", logDir);
    return new EmbeddedKafka(server, admin, logDir, clientPort);
  }

  /** The {@code bootstrap.servers} value for clients, {@code 127.0.0.1:port}. */
  public String bootstrapServers() {
    return BrokerProperties.HOST + ":" + port;
  }

  /** The client (PLAINTEXT) port. */
  public int port() {
    return port;
  }

  /** The broker's log dir. */
  public Path dataDir() {
    return dataDir;
  }

  /**
   * Creates topics and waits until the controller has created them. Topics that exist already are left as
   * they are, so a restarted demo may call this again.
   *
   * @throws IllegalStateException if a topic cannot be created, or creation takes longer than 30 s
   */
  public void createTopics(Collection<NewTopic> topics) {
    ensureOpen();
    TopicAdmin.createIfMissing(admin, topics, ADMIN_TIMEOUT);
  }

  /** Creates topics; see {@link #createTopics(Collection)}. */
  public void createTopics(NewTopic... topics) {
    createTopics(List.of(topics));
  }

  /** Stops the broker and waits until it has stopped; the data dir stays. Calling it again does nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      long startNanos = System.nanoTime();
      stopQuietly(server, admin);
      log.info("Kafka broker on {} stopped in {} ms", bootstrapServers(),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    }
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("Embedded Kafka on " + bootstrapServers() + " is closed");
    }
  }

  /** Waits until the broker lists itself in the cluster metadata, i.e. it is registered and unfenced. */
  private static void awaitBroker(Admin admin, long deadlineNanos) {
    Exception last = null;
    while (System.nanoTime() < deadlineNanos) {
      int remainingMs = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
      KafkaFuture<Collection<Node>> nodes =
          admin.describeCluster(new DescribeClusterOptions().timeoutMs(remainingMs)).nodes();
      try {
        if (!nodes.get(remainingMs, TimeUnit.MILLISECONDS).isEmpty()) {
          return;
        }
      } catch (ExecutionException | TimeoutException e) {
        last = e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("Interrupted while waiting for the broker", e);
      }
    }
    throw new IllegalStateException(
        "broker did not answer describeCluster within " + STARTUP_TIMEOUT.toSeconds() + " s", last);
  }

  private static void stopQuietly(KafkaRaftServer server, Admin admin) {
    if (admin != null) {
      try {
        admin.close(ADMIN_CLOSE_TIMEOUT);
      } catch (RuntimeException e) {
        log.warn("Closing the admin client failed", e);
      }
    }
    if (server == null) {
      return;
    }
    try {
      server.shutdown();
      server.awaitShutdown();
    } catch (RuntimeException e) {
      log.warn("Kafka broker shutdown failed", e);
    }
  }

  /**
   * A port that was free a moment ago. Ports are chosen before the server starts because they go into its
   * config: the controller port is the quorum's voter address and the client port the advertised listener.
   * Another process could take the port in between, which is unlikely on a test machine.
   */
  private static int freePort(int unlike) {
    for (int attempt = 0; attempt < 10; attempt++) {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(BrokerProperties.HOST))) {
        socket.setReuseAddress(true);
        int candidate = socket.getLocalPort();
        if (candidate != unlike) {
          return candidate;
        }
      } catch (IOException e) {
        throw new UncheckedIOException("No free port on " + BrokerProperties.HOST, e);
      }
    }
    throw new IllegalStateException("No second free port on " + BrokerProperties.HOST);
  }
}
