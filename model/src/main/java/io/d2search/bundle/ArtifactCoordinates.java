package io.d2search.bundle;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.util.List;
import java.util.Properties;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/** Maven coordinates of the jar that holds a classpath resource, read from the jar's own {@code pom.properties}. */
final class ArtifactCoordinates {
  private ArtifactCoordinates() {}

  /**
   * @return {@code groupId:artifactId:version}, or null when the resource is not in a jar with exactly one
   *     {@code META-INF/maven/.../pom.properties}
   */
  static String of(String resource) {
    URL url = ArtifactCoordinates.class.getClassLoader().getResource(resource);
    if (url == null) {
      return null;
    }
    try {
      URLConnection connection = url.openConnection();
      if (!(connection instanceof JarURLConnection jarConnection)) {
        return null;
      }
      jarConnection.setUseCaches(false); // a private JarFile that we may close
      try (JarFile jar = jarConnection.getJarFile()) {
        List<JarEntry> poms = jar.stream()
            .filter(e -> e.getName().startsWith("META-INF/maven/") && e.getName().endsWith("/pom.properties"))
            .toList();
        if (poms.size() != 1) {
          return null;
        }
        Properties p = new Properties();
        try (InputStream in = jar.getInputStream(poms.get(0))) {
          p.load(in);
        }
        String g = p.getProperty("groupId");
        String a = p.getProperty("artifactId");
        String v = p.getProperty("version");
        return g == null || a == null || v == null ? null : g + ":" + a + ":" + v;
      }
    } catch (IOException e) {
      return null; // informational only: a bundle loads without it
    }
  }
}
