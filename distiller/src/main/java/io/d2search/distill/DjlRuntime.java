package io.d2search.distill;

import ai.djl.engine.Engine;
import java.nio.file.Path;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts DJL's PyTorch engine offline, once per JVM.
 *
 * <p>DJL reads its switches from system properties when its classes initialise, so they are set here before any
 * DJL class is touched: {@code ai.djl.offline=true} (never download a native library: libtorch comes from the
 * {@code pytorch-native-cpu} jar), {@code OPT_OUT_TRACKING=true} (no usage ping), {@code DJL_CACHE_DIR} (where
 * libtorch is unpacked, about 0.5 GB once per machine) and the PyTorch thread counts. A value already set on
 * the command line ({@code -DDJL_CACHE_DIR=...}) or in the environment wins over the defaults here.
 *
 * <p>CUDA: whatever the engine, DJL's platform detection counts GPUs by loading {@code libcudart} through JNA into
 * this JVM. On a host with a CUDA toolkit but an old or no driver (the build machines) that logs two harmless
 * warnings from {@code ai.djl.util.cuda.CudaUtils} ("CUDA driver version is insufficient"), and the CPU libtorch
 * from the classpath is used. DJL's alternative, {@code -Dai.djl.util.cuda.fork=true}, probes in a child JVM, but
 * on JDK 22+ that child prints native-access warnings into the output DJL parses, which logs a stack trace
 * instead; so it is left off. Silence the logger {@code ai.djl.util.cuda.CudaUtils} if the warnings bother you.
 *
 * <p>Thread-safe.
 */
public final class DjlRuntime {
  private static final Logger log = LoggerFactory.getLogger(DjlRuntime.class);
  /** System property (or environment variable) naming DJL's cache directory. */
  public static final String CACHE_DIR = "DJL_CACHE_DIR";
  private static final String ENGINE = "PyTorch";

  private static Engine engine;

  private DjlRuntime() {}

  /**
   * How to start the engine.
   *
   * @param cacheDir where libtorch is unpacked; {@code null} keeps DJL's default ({@code DJL_CACHE_DIR} from the
   *     environment or system properties, else {@code ~/.djl.ai})
   * @param intraOpThreads PyTorch intra-op threads; 0 lets PyTorch choose (all cores)
   * @param interOpThreads PyTorch inter-op threads; 0 lets PyTorch choose
   */
  public record Settings(Path cacheDir, int intraOpThreads, int interOpThreads) {
    public Settings {
      if (intraOpThreads < 0 || interOpThreads < 0) {
        throw new IllegalArgumentException("thread counts must be >= 0: " + intraOpThreads + ", " + interOpThreads);
      }
    }

    /** DJL's default cache directory, PyTorch's default thread counts. */
    public static Settings defaults() {
      return new Settings(null, 0, 0);
    }
  }

  /** Starts (or returns) the engine with default settings. */
  public static Engine engine() {
    return start(Settings.defaults());
  }

  /**
   * Starts the PyTorch engine with these settings, or returns the running one (settings given after the first
   * start are ignored, with a debug line: DJL cannot restart an engine).
   */
  public static synchronized Engine start(Settings settings) {
    Objects.requireNonNull(settings, "settings");
    if (engine != null) {
      log.debug("DJL engine already running; ignoring {}", settings);
      return engine;
    }
    setIfAbsent("ai.djl.offline", "true");
    setIfAbsent("OPT_OUT_TRACKING", "true");
    // PyTorch's JIT graph optimiser only matters for TorchScript models, which the heads are not.
    setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
    if (settings.cacheDir() != null && System.getenv(CACHE_DIR) == null) {
      setIfAbsent(CACHE_DIR, settings.cacheDir().toAbsolutePath().toString());
    }
    if (settings.intraOpThreads() > 0) {
      setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(settings.intraOpThreads()));
    }
    if (settings.interOpThreads() > 0) {
      setIfAbsent("ai.djl.pytorch.num_interop_threads", Integer.toString(settings.interOpThreads()));
    }
    long start = System.nanoTime();
    engine = Engine.getEngine(ENGINE);
    log.info("DJL {} engine {} started in {} ms (cache {})", ENGINE, engine.getVersion(),
        (System.nanoTime() - start) / 1_000_000, ai.djl.util.Utils.getEngineCacheDir());
    return engine;
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
