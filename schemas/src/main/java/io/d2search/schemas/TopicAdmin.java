package io.d2search.schemas;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/** Creates topics that are missing; the one place every service and test broker does it. Stateless. */
public final class TopicAdmin {
  private TopicAdmin() {}

  /**
   * Creates the topics that do not exist yet and waits until the controller has created them; existing topics are
   * left as they are (partitions and configs are not changed), so a restarted service may call this again.
   *
   * @param admin an admin client of the cluster; not closed
   * @param timeout bound on the whole call
   * @return the names of the topics created by this call
   * @throws IllegalStateException naming every topic that could not be created in time, and why
   */
  public static Set<String> createIfMissing(Admin admin, Collection<NewTopic> topics, Duration timeout) {
    var futures = admin.createTopics(topics, new CreateTopicsOptions().timeoutMs((int) timeout.toMillis())).values();
    long deadline = System.nanoTime() + timeout.toNanos();
    Set<String> created = new LinkedHashSet<>();
    List<String> failures = new ArrayList<>();
    for (NewTopic topic : topics) {
      try {
        futures.get(topic.name()).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        created.add(topic.name());
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          failures.add(topic.name() + ": " + e.getCause());
        }
      } catch (TimeoutException e) {
        failures.add(topic.name() + ": not created within " + timeout.toSeconds() + " s");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("Interrupted while creating topics", e);
      }
    }
    if (!failures.isEmpty()) {
      throw new IllegalStateException("Cannot create topics: " + String.join("; ", failures));
    }
    return created;
  }
}
