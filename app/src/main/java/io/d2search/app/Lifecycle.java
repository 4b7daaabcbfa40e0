package io.d2search.app;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Components of a running service, closed in reverse order of start on shutdown (Ctrl-C, SIGTERM) or on failure.
 */
public final class Lifecycle implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Lifecycle.class);
  private final Deque<AutoCloseable> started = new ArrayDeque<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  /** Registers a started component; returns it. */
  public <T extends AutoCloseable> T add(T component) {
    synchronized (started) {
      started.push(component);
    }
    return component;
  }

  /** Blocks the calling thread until the JVM is asked to stop, then closes everything. */
  public void awaitShutdown() throws InterruptedException {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      close();
      stopped.countDown();
    }, "d2search-shutdown"));
    stopped.await();
  }

  @Override
  public void close() {
    while (true) {
      AutoCloseable next;
      synchronized (started) {
        next = started.poll();
      }
      if (next == null) {
        return;
      }
      try {
        next.close();
      } catch (Exception e) {
        log.warn("Closing {} failed", next.getClass().getSimpleName(), e);
      }
    }
  }
}
