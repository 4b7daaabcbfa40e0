package io.d2search.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.d2search.config.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes manifests checked for what a cluster would only tell at deploy time or during an outage: every
 * StatefulSet's containers run a d2search image of this build with a known subcommand, are probed on
 * {@code /health}, ask for resources and cap memory, keep their state and index on a claim template and find every
 * volume they mount; replicated services spread over nodes; the ConfigMap holds only settings d2search knows; the
 * Service selects pods that exist and names a port they have; the GPU patch targets the indexer's container.
 */
class ManifestsTest {
  private static final Path K8S = Path.of(System.getProperty("d2search.projectDir", "..")).resolve("deploy/k8s");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Set<String> SUBCOMMANDS = Set.of("indexer", "query-service", "feedback", "distiller");

  @TempDir Path dir;

  static List<JsonNode> documents(Path file) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
      while (it.hasNext()) {
        JsonNode doc = it.next();
        if (doc != null && !doc.isEmpty()) {
          docs.add(doc);
        }
      }
    }
    return docs;
  }

  static List<JsonNode> ofKind(List<JsonNode> docs, String kind) {
    return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
  }

  @Test
  void statefulSetsAreProbedResourcedAndKeepTheirStateOnClaims() throws IOException {
    List<JsonNode> docs = documents(K8S.resolve("d2search.yaml"));
    List<JsonNode> sets = ofKind(docs, "StatefulSet");
    assertThat(sets).extracting(s -> s.path("metadata").path("name").asText())
        .containsExactlyInAnyOrder("d2search-indexer", "d2search-feedback", "d2search-query", "d2search-distiller");
    String version = System.getProperty("d2search.test.imageVersion", "0.1.0-SNAPSHOT");
    for (JsonNode set : sets) {
      String name = set.path("metadata").path("name").asText();
      JsonNode spec = set.path("spec");
      assertThat(spec.path("template").path("metadata").path("labels"))
          .as(name + ": pods carry the selector's labels").isEqualTo(spec.path("selector").path("matchLabels"));
      Set<String> volumes = new HashSet<>();
      spec.path("template").path("spec").path("volumes").forEach(v -> volumes.add(v.path("name").asText()));
      spec.path("volumeClaimTemplates").forEach(v -> volumes.add(v.path("metadata").path("name").asText()));
      JsonNode containers = spec.path("template").path("spec").path("containers");
      assertThat(containers.size()).as(name).isEqualTo(1);
      JsonNode c = containers.get(0);
      assertThat(c.path("image").asText()).as(name + " image")
          .isIn("d2search:" + version, "d2search-lab:" + version);
      assertThat(SUBCOMMANDS).as(name + " subcommand").contains(c.path("args").get(0).asText());
      Set<String> ports = new HashSet<>();
      c.path("ports").forEach(p -> ports.add(p.path("name").asText()));
      JsonNode readiness = c.path("readinessProbe").path("httpGet");
      assertThat(readiness.path("path").asText()).as(name + " readiness").isEqualTo("/health");
      assertThat(ports).as(name + " readiness port").contains(readiness.path("port").asText());
      assertThat(c.path("livenessProbe").isMissingNode()).as(name + " liveness").isFalse();
      assertThat(c.path("resources").path("requests").has("cpu")).as(name + " cpu request").isTrue();
      assertThat(c.path("resources").path("requests").has("memory")).as(name + " memory request").isTrue();
      assertThat(c.path("resources").path("limits").has("memory")).as(name + " memory limit").isTrue();
      List<String> mounted = new ArrayList<>();
      c.path("volumeMounts").forEach(m -> {
        mounted.add(m.path("name").asText());
        if (m.path("mountPath").asText().equals("/var/lib/d2search")) {
          JsonNode claims = spec.path("volumeClaimTemplates");
          List<String> claimNames = new ArrayList<>();
          claims.forEach(t -> claimNames.add(t.path("metadata").path("name").asText()));
          assertThat(claimNames).as(name + ": state on a claim per replica").contains(m.path("name").asText());
        }
      });
      assertThat(volumes).as(name + ": every mounted volume exists").containsAll(mounted);
      assertThat(mounted).as(name + " mounts its state or index").isNotEmpty();
      if (spec.path("replicas").asInt(1) > 1) {
        JsonNode spread = spec.path("template").path("spec").path("affinity").path("podAntiAffinity")
            .path("preferredDuringSchedulingIgnoredDuringExecution");
        assertThat(spread.size()).as(name + ": replicas spread over nodes").isPositive();
        assertThat(spread.get(0).path("podAffinityTerm").path("labelSelector").path("matchLabels"))
            .isEqualTo(spec.path("selector").path("matchLabels"));
      }
    }
  }

  @Test
  void configMapHoldsOnlyKnownSettingsAndTheServiceSelectsTheQueryPods() throws IOException {
    List<JsonNode> docs = documents(K8S.resolve("d2search.yaml"));
    String properties = ofKind(docs, "ConfigMap").get(0).path("data").path("d2search.properties").asText();
    Path file = dir.resolve("d2search.properties");
    Files.writeString(file, properties);
    Settings settings = Settings.load(file, Map.of()); // an unknown key fails here
    assertThat(settings.string("http.host")).isEqualTo("0.0.0.0");
    assertThat(settings.integer("kafka.topic.replication-factor")).isEqualTo(3);

    JsonNode service = ofKind(docs, "Service").get(0);
    JsonNode selector = service.path("spec").path("selector");
    JsonNode query = ofKind(docs, "StatefulSet").stream()
        .filter(s -> s.path("spec").path("template").path("metadata").path("labels").equals(selector))
        .findFirst().orElseThrow(() -> new AssertionError("the Service selects no StatefulSet's pods"));
    Set<String> ports = new HashSet<>();
    query.path("spec").path("template").path("spec").path("containers").get(0).path("ports")
        .forEach(p -> ports.add(p.path("name").asText()));
    service.path("spec").path("ports").forEach(p -> assertThat(ports).contains(p.path("targetPort").asText()));
  }

  @Test
  void theGpuPatchTargetsTheIndexerContainer() throws IOException {
    JsonNode patch = documents(K8S.resolve("indexer-gpu.yaml")).get(0);
    JsonNode container = patch.path("spec").path("template").path("spec").path("containers").get(0);
    JsonNode indexer = ofKind(documents(K8S.resolve("d2search.yaml")), "StatefulSet").stream()
        .filter(s -> s.path("metadata").path("name").asText().equals("d2search-indexer")).findFirst().orElseThrow();
    assertThat(container.path("name").asText())
        .isEqualTo(indexer.path("spec").path("template").path("spec").path("containers").get(0).path("name").asText());
    assertThat(container.path("resources").path("limits").path("nvidia.com/gpu").asInt()).isEqualTo(1);
    assertThat(container.path("env").get(0).path("name").asText())
        .isEqualTo(Settings.envName("model.provider"));
    assertThat(container.path("env").get(0).path("value").asText()).isEqualTo("CUDA");
  }
}
