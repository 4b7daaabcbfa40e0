#!/usr/bin/env bash
# Builds d2search's container images with no registry: only the Debian mirror and Maven Central are reached.
#
#   deploy/images/build.sh [--lab | --broker-only]
#
#   d2search-base:bookworm      Debian bookworm minbase from debootstrap, imported with `docker import`
#   d2search-jre:<jdk>          + a jlink'ed runtime of the JDK the build uses ($JAVA_HOME)
#   d2search-kafka:<kafka>      + Kafka's server jars from Maven Central (KRaft, configured by KAFKA_* variables)
#   d2search:<version>          + the serving jar and its libraries (app/target), no lab code or PyTorch
#   d2search-lab:<version>      + the lab jar (distiller, eval, ...), only with --lab
# --broker-only stops after the Kafka image (it needs no build of d2search: CI runs it before the tests).
#
# Run `./mvnw -B -DskipTests install` first (the serving image copies app/target). An image whose tag exists is
# not rebuilt, except d2search and d2search-lab, whose jars change with every build. debootstrap's root file system
# is cached as a tarball in $D2SEARCH_IMAGE_CACHE (default ~/.cache/d2search-images), so a machine that keeps it
# imports the base without the mirror. Needs root (debootstrap) or a cached tarball, and a running Docker engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LAB=false
APP=true
for arg in "$@"; do
  case $arg in
    --lab) LAB=true ;;
    --broker-only) APP=false ;;
    *) echo "usage: deploy/images/build.sh [--lab | --broker-only]" >&2; exit 2 ;;
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
# The runtime's modules: what `jdeps --print-module-deps` finds on the serving, lab and Kafka class paths (run it
# again when a dependency changes; a missing module fails the container tests at start-up), plus those reached
# only through services or reflection: TLS's elliptic curves, DNS lookups, JFR and JMX for operators, zip file
# systems.
MODULES=java.base,java.compiler,java.desktop,java.instrument,java.management,java.naming,java.net.http,java.rmi
MODULES+=,java.scripting,java.security.jgss,java.security.sasl,java.sql,jdk.httpserver,jdk.incubator.vector
MODULES+=,jdk.management,jdk.unsupported,jdk.crypto.ec,jdk.naming.dns,jdk.jfr,jdk.management.agent,jdk.zipfs
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
  step "jlink $JDK_VERSION"
  rm -rf "$STAGE/jre/runtime" && mkdir -p "$STAGE/jre"
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-6 --output "$STAGE/jre/runtime" 2> >(grep -v 'incubator modules' >&2)
  cp deploy/images/jre/Dockerfile "$STAGE/jre/"
  build --build-arg BASE_IMAGE="$BASE" -t "$JRE" "$STAGE/jre"
fi

if ! exists "$KAFKA"; then
  step "build $KAFKA"
  rm -rf "$STAGE/kafka" && mkdir -p "$STAGE/kafka"
  ./mvnw -q -B -f deploy/images/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$STAGE/kafka/libs"
  cp deploy/images/kafka/Dockerfile deploy/images/kafka/run deploy/images/kafka/log4j2.properties "$STAGE/kafka/"
  build --build-arg JRE_IMAGE="$JRE" -t "$KAFKA" "$STAGE/kafka"
fi

if ! $APP; then
  docker images --filter 'reference=d2search*' --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | sort
  exit 0
fi
[ -f app/target/d2search.jar ] || { echo "build.sh: app/target/d2search.jar is missing: run ./mvnw -B -DskipTests install" >&2; exit 1; }
step "build d2search:$VERSION"
build --build-arg JRE_IMAGE="$JRE" -f deploy/Dockerfile -t "d2search:$VERSION" app/target
if $LAB; then
  [ -f lab/target/d2search-lab.jar ] || { echo "build.sh: lab/target/d2search-lab.jar is missing" >&2; exit 1; }
  step "build d2search-lab:$VERSION"
  build --build-arg JRE_IMAGE="$JRE" -f deploy/Dockerfile.lab -t "d2search-lab:$VERSION" lab/target
fi
docker images --filter 'reference=d2search*' --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | sort
