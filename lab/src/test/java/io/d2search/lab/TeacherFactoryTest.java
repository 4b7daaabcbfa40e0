package io.d2search.lab;

import io.d2search.config.Settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.sun.net.httpserver.HttpServer;
import io.d2search.teach.FeatureTeacher;
import io.d2search.teach.Teacher;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setting teacher.kind picks distill's teacher: llm-http against a real local completions server (JDK
 * {@code HttpServer}), its scores cached on disk so a second run asks the server nothing.
 */
class TeacherFactoryTest {
  @TempDir Path dir;
  private HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/v1/completions", exchange -> {
      requests.incrementAndGet();
      String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      // Yes-leaning when the passage is about vitamin D (the prompt puts the passage first).
      boolean yes = body.contains("Passage: Vitamin D");
      String reply = "{\"choices\":[{\"index\":0,\"text\":\"" + (yes ? " yes" : " no") + "\",\"logprobs\":{"
          + "\"tokens\":[\"" + (yes ? " yes" : " no") + "\"],\"token_logprobs\":[-0.1],"
          + "\"top_logprobs\":[{\" yes\":" + (yes ? -0.1 : -3.0) + ",\" no\":" + (yes ? -2.5 : -0.05) + "}],"
          + "\"text_offset\":[0]}}]}";
      byte[] bytes = reply.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private Settings llm() {
    return Settings.load(null, Map.of()).with("data.dir", dir).with("teacher.kind", "llm-http")
        .with("teacher.llm.url", "http://127.0.0.1:" + server.getAddress().getPort())
        .with("teacher.llm.model", "test-llm");
  }

  @Test
  void llmHttpScoresThroughTheServerAndCachesOnDisk() {
    List<String> passages = List.of("Vitamin D deficiency is common in winter.", "Chess openings for beginners.");
    Path cache = TeacherFactory.cacheDir(llm());
    double[] first;
    try (Teacher teacher = TeacherFactory.forDistill(llm(), passages, cache)) {
      assertThat(teacher).isNotInstanceOf(FeatureTeacher.class);
      assertThat(teacher.id()).contains("test-llm");
      first = teacher.score("Does vitamin D matter?", passages);
    }
    assertThat(requests.get()).isEqualTo(2);
    // softmax([−0.1, −2.5]) and softmax([−3.0, −0.05]) for yes.
    assertThat(first[0]).isCloseTo(1 / (1 + Math.exp(-2.4)), within(1e-9));
    assertThat(first[1]).isCloseTo(1 / (1 + Math.exp(2.95)), within(1e-9));
    assertThat(Files.isDirectory(cache.resolve("scores"))).isTrue();
    try (Teacher again = TeacherFactory.forDistill(llm(), passages, cache)) {
      assertThat(again.score("Does vitamin D matter?", passages)).containsExactly(first);
    }
    assertThat(requests.get()).as("the second run is answered from the cache").isEqualTo(2);
  }

  @Test
  void aMissingOrWrongSettingIsNamed() {
    Path cache = dir.resolve("cache");
    assertThatThrownBy(() -> TeacherFactory.forDistill(llm().with("teacher.llm.model", ""), List.of(), cache))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("teacher.llm.model");
    assertThatThrownBy(() -> TeacherFactory.forDistill(llm().with("teacher.kind", "gpt"), List.of(), cache))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("teacher.kind");
    assertThatThrownBy(() -> TeacherFactory.forDistill(llm().with("teacher.kind", "onnx-cross-encoder"), List.of(),
        cache)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("teacher.cross-encoder.onnx");
  }
}
