#!/usr/bin/env bash
# Builds d2search's container images with no registry: only the Debian mirror and Maven Central are reached.
#
#   deploy/images/build.sh [--lab]
#
#   d2search-base:bookworm      Debian bookworm minbase from debootstrap, imported with `docker import`
#   d2search-jre:<jdk>          + a jlink'ed runtime of the JDK the build uses ($JAVA_HOME)
#   d2search-kafka:<kafka>      + Kafka's server jars from Maven Central (KRaft, configured by KAFKA_* variables)
#   d2search:<version>          + the serving jar and its libraries (app/target), no lab code or PyTorch
#   d2search-lab:<version>      + the lab jar (distiller, eval, ...), only with --lab
#
# Run `./mvnw -B -DskipTests install` first (the serving image copies app/target). An image whose tag exists is
# not rebuilt, except d2search and d2search-lab, whose jars change with every build. debootstrap's root file system
# is cached as a tarball in $D2SEARCH_IMAGE_CACHE (default ~/.cache/d2search-images), so a machine that keeps it
# imports the base without the mirror. Needs root (debootstrap) or a cached tarball, and a running Docker engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LAB=false
for arg in "$@"; do
  case $arg in
    --lab) LAB=true ;;
    *) echo "usage: deploy/images/build.sh [--lab]" >&2; exit 2 ;;
  esac
done

JAVA_HOME=$(./d2search --java-home)
[ -x "$JAVA_HOME/bin/jlink" ] || { echo "build.sh: JAVA_HOME must be a JDK with jlink (21 or newer)" >&2; exit 1; }
SUITE=bookworm
MIRROR=${D2SEARCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${D2SEARCH_IMAGE_CACHE:-$HOME/.cache/d2search-images}
STAGE=$ROOT/target/images
VERSION=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' pom.xml)
JDK_VERSION=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p')
BASE=d2search-base:$SUITE
JRE=d2search-jre:$JDK_VERSION
KAFKA=d2search-kafka:$KAFKA_VERSION
mkdir -p "$STAGE" "$CACHE"

exists() { docker image inspect "$1" >/dev/null 2>&1; }
step() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
# docker build's own chatter (the legacy builder's notice, step output) goes to a log shown only on failure.
build() {
  docker build "$@" > "$STAGE/docker-build.log" 2>&1 || { cat "$STAGE/docker-build.log" >&2; exit 1; }
}

if ! exists "$BASE"; then
  tarball=$CACHE/$SUITE-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is not installed" >&2; exit 1; }
    step "debootstrap $SUITE from $MIRROR"
    rootfs=$(mktemp -d "$STAGE/rootfs.XXXX")
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" > "$STAGE/debootstrap.log" \
      || { echo "build.sh: debootstrap failed, see $STAGE/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  step "docker import $BASE"
  docker import -c 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
fi

if ! exists "$JRE"; then
  # The modules the serving, lab and broker class paths use (jdeps), plus those reached only by reflection or
  # services: TLS's elliptic curves, DNS lookups, JFR and JMX for operators, the Vector API every JVM adds.
  step "jlink $JDK_VERSION"
  KAFKA_LIBS=$STAGE/kafka/libs
  rm -rf "$KAFKA_LIBS" && ./mvnw -q -B -f deploy/images/kafka/pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS"
  modules=$(for jar in app/target/d2search.jar lab/target/d2search-lab.jar; do
      [ -f "$jar" ] && "$JAVA_HOME/bin/jdeps" --multi-release "${JDK_VERSION%%.*}" --ignore-missing-deps \
        --print-module-deps --class-path "$(dirname "$jar")/lib/*" "$jar"
    done
    "$JAVA_HOME/bin/jdeps" --multi-release "${JDK_VERSION%%.*}" --ignore-missing-deps --print-module-deps \
      --class-path "$KAFKA_LIBS/*" "$KAFKA_LIBS"/kafka_2.13-*.jar "$KAFKA_LIBS"/kafka-server-[0-9]*.jar)
  modules=$(echo "$modules,jdk.crypto.ec,jdk.naming.dns,jdk.jfr,jdk.management.agent,jdk.incubator.vector,jdk.zipfs" \
    | tr ',\n' '\n\n' | sed '/^$/d' | sort -u | paste -sd,)
  rm -rf "$STAGE/jre/runtime" && mkdir -p "$STAGE/jre"
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-6 --output "$STAGE/jre/runtime"
  cp deploy/images/jre/Dockerfile "$STAGE/jre/"
  build --build-arg BASE_IMAGE="$BASE" -t "$JRE" "$STAGE/jre" >/dev/null
fi

if ! exists "$KAFKA"; then
  step "build $KAFKA"
  mkdir -p "$STAGE/kafka"
  [ -d "$STAGE/kafka/libs" ] || ./mvnw -q -B -f deploy/images/kafka/pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$STAGE/kafka/libs"
  cp deploy/images/kafka/Dockerfile deploy/images/kafka/run deploy/images/kafka/log4j2.properties "$STAGE/kafka/"
  build --build-arg JRE_IMAGE="$JRE" -t "$KAFKA" "$STAGE/kafka" >/dev/null
fi

[ -f app/target/d2search.jar ] || { echo "build.sh: app/target/d2search.jar is missing: run ./mvnw -B -DskipTests install" >&2; exit 1; }
step "build d2search:$VERSION"
build --build-arg JRE_IMAGE="$JRE" -f deploy/Dockerfile -t "d2search:$VERSION" app/target >/dev/null
if $LAB; then
  [ -f lab/target/d2search-lab.jar ] || { echo "build.sh: lab/target/d2search-lab.jar is missing" >&2; exit 1; }
  step "build d2search-lab:$VERSION"
  build --build-arg JRE_IMAGE="$JRE" -f deploy/Dockerfile.lab -t "d2search-lab:$VERSION" lab/target >/dev/null
fi
docker images --filter 'reference=d2search*' --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | sort
