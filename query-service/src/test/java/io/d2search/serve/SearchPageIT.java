package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.broker.TestKafka;
import io.d2search.embed.Embedder;
import io.d2search.embed.EmbedderConfig;
import io.d2search.embed.ExecutionProvider;
import io.d2search.events.Click;
import io.d2search.schemas.Topics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The search page in a real headless browser (Debian's chromium through chromedriver) against a real query service
 * and broker: search, read the explanation, click a result, come back, and find that click on the {@code clicks}
 * topic with the query id and rank the page showed. A screenshot goes to {@code target/search-page.png}. Skipped
 * where no chromium and chromedriver are installed.
 */
@ExtendWith(TestKafka.DockerCondition.class)
class SearchPageIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  @TempDir static Path dir;
  private static TestKafka kafka;
  private static Embedder embedder;

  @BeforeAll
  static void start() {
    kafka = TestKafka.start(dir.resolve("kafka"));
    kafka.createTopics(new NewTopic(Topics.EMBEDDINGS, 1, kafka.replicationFactor()), new NewTopic(Topics.IMPRESSIONS, 1, kafka.replicationFactor()),
        new NewTopic(Topics.CLICKS, 1, kafka.replicationFactor()));
    embedder = Embedder.create(EmbedderConfig.defaults().withProvider(ExecutionProvider.CPU));
  }

  @AfterAll
  static void stop() {
    if (embedder != null) {
      embedder.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  /** An executable on the PATH, or in the usual Debian place. */
  private static Optional<Path> executable(String... names) {
    List<Path> dirs = new ArrayList<>();
    for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      dirs.add(Path.of(d));
    }
    dirs.add(Path.of("/usr/bin"));
    return Stream.of(names).flatMap(n -> dirs.stream().map(d -> d.resolve(n))).filter(Files::isExecutable)
        .findFirst();
  }

  @Test
  void aUserSearchesReadsWhyAndClicksAndTheClickReachesKafka() throws Exception {
    Optional<Path> chromium = executable("chromium", "chromium-browser", "google-chrome");
    Optional<Path> driverBinary = executable("chromedriver");
    Assumptions.assumeTrue(chromium.isPresent() && driverBinary.isPresent(),
        "no chromium and chromedriver on this machine (apt-get install chromium chromium-driver)");

    TestCorpus.produce(kafka.bootstrapServers(), embedder,
        id -> Map.of("topic", id.equals("cats") ? "pets" : "other"));
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrapServers(), dir.resolve("index"))
        .withHttp("127.0.0.1", 0);
    try (QueryService service = QueryService.start(config, embedder,
        new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
      assertThat(service.materializer().awaitCaughtUp(TIMEOUT)).isTrue();
      ChromeOptions options = new ChromeOptions().setBinary(chromium.get().toFile())
          .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1100,900");
      ChromeDriverService driverService = new ChromeDriverService.Builder()
          .usingDriverExecutable(driverBinary.get().toFile()).usingAnyFreePort().build();
      ChromeDriver browser = new ChromeDriver(driverService, options);
      try {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
        browser.get("http://127.0.0.1:" + service.port() + "/");
        assertThat(browser.getTitle()).isEqualTo("d2search");
        browser.findElement(By.id("q")).sendKeys("a pet kitten\n"); // Enter submits: the keyboard is enough
        wait.until(b -> !b.findElements(By.cssSelector("#results li")).isEmpty());
        List<WebElement> results = browser.findElements(By.cssSelector("#results li"));
        assertThat(results.get(0).getAttribute("data-passage")).isEqualTo("cats#0");
        assertThat(browser.findElement(By.id("status")).getText()).contains("model v0").contains("hybrid");
        assertThat(results.get(0).getText()).contains("topic: pets");
        // Why here? Each stage's rank and score.
        results.get(0).findElement(By.cssSelector("details.why summary")).click();
        String why = results.get(0).findElement(By.cssSelector("details.why table")).getText();
        assertThat(why).contains("vector (HNSW)").contains("keyword (BM25)").contains("fusion").contains("score:");
        String queryId = browser.findElement(By.id("results")).getAttribute("data-query-id");
        assertThat(queryId).isNotBlank();

        Path screenshot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Path report = Path.of("target", "search-page.png");
        Files.createDirectories(report.getParent());
        Files.copy(screenshot, report, StandardCopyOption.REPLACE_EXISTING);

        // Click the second result; it opens in a new tab. Back on the page, the dwell ends and the click is sent.
        String original = browser.getWindowHandle();
        WebElement second = results.get(1).findElement(By.cssSelector("a.title"));
        String secondPassage = second.getAttribute("data-passage");
        second.click();
        Thread.sleep(300);
        browser.switchTo().window(original);
        ((JavascriptExecutor) browser).executeScript("window.dispatchEvent(new Event('focus'));");
        wait.until(b -> {
          String last = b.findElement(By.id("status")).getAttribute("data-last-click");
          return last != null && !last.isEmpty();
        });
        assertThat(browser.findElement(By.id("status")).getAttribute("data-last-click")).startsWith("202");

        Click click = awaitClick(queryId);
        assertThat(click.getPassageId()).isEqualTo(secondPassage);
        assertThat(click.getRank()).isEqualTo(2);
        assertThat(click.getDwellMs()).isGreaterThanOrEqualTo(200);
      } finally {
        browser.quit();
      }
    }
  }

  private static Click awaitClick(String queryId) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "page-it");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(Topics.CLICKS));
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          if (queryId.equals(r.key())) {
            return Topics.clickSerde().decode(r.value());
          }
        }
      }
    }
    throw new AssertionError("no click for query " + queryId + " on " + Topics.CLICKS);
  }
}
