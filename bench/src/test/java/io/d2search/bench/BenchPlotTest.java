package io.d2search.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchPlotTest {
  @Test
  void drawsLatencyPercentilesAsAPng(@TempDir Path dir) throws Exception {
    Map<String, double[]> latency = new LinkedHashMap<>();
    latency.put("vector (in process)", new double[] {16.0, 36.5});
    latency.put("keyword (in process)", new double[] {1.3, 7.2});
    latency.put("hybrid (in process)", new double[] {16.8, 53.8});
    latency.put("hybrid over HTTP", new double[] {22.9, 70.3});
    Path png = dir.resolve("bench.png");
    BenchPlot.write(latency, "search latency", png);
    BufferedImage image = ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isEqualTo(900);
    assertThat(image.getHeight()).isEqualTo(560);
    assertThatThrownBy(() -> BenchPlot.write(Map.of(), "x", png)).isInstanceOf(IllegalArgumentException.class);
  }
}
