#!/usr/bin/env bash
# docker-images.sh [all|golang|distroless|kafka|versitygw]
#
# Makes the base images the Docker stacks use, locally, under the exact
# names producer/Dockerfile, consumer/Dockerfile, docker-compose.kafka.yml
# and docker-compose.apps.yml (its s3 profile) give them, for machines that reach no image registry (air-gapped sites, CI)
# but do reach a Debian mirror and Maven Central or their local mirrors:
#
#   golang:<x.y.z>-bookworm            Go from this machine's GOROOT (it must
#                                      be that version) on a Debian minbase
#                                      root file system with gcc and
#                                      libc6-dev, as the official image has
#                                      them (the producer builds with cgo,
#                                      linked statically), and this machine's
#                                      CA certificates
#   gcr.io/distroless/static-debian12:nonroot
#                                      scratch with /etc/passwd and /etc/group
#                                      naming nonroot (65532), /tmp, and the
#                                      host's CA certificates
#   apache/kafka:<x.y.z>               the broker's jars (scripts/kafka-local.sh
#                                      jars) on OpenJDK 17 from Debian, run as
#                                      appuser (1000) by an entrypoint that
#                                      follows the official image's convention:
#                                      every KAFKA_* variable becomes a line of
#                                      /opt/kafka/config/server.properties
#                                      (prefix dropped, lower case, _ to ., __
#                                      to _, ___ to -), the data folder is
#                                      formatted once with CLUSTER_ID, and
#                                      /opt/kafka/bin holds
#                                      kafka-broker-api-versions.sh (the health
#                                      check), kafka-topics.sh,
#                                      kafka-consumer-groups.sh and
#                                      kafka-storage.sh
#   versity/versitygw:<vX.Y.Z>         the S3 server of the s3 profile:
#                                      versitygw as scripts/s3-local.sh bin
#                                      builds it from the Go module proxy
#                                      (its version must be the one the
#                                      compose file names), at
#                                      /usr/local/bin/versitygw on the Debian
#                                      root file system (sh and cat for the
#                                      compose entrypoint that reads the
#                                      secrets), behind an entrypoint that
#                                      runs versitygw with the container's
#                                      arguments, as the official image does
#
# An image that exists already (docker image inspect) is left alone, so a
# second run costs seconds; `docker image rm` one to make it again. The Go
# image is the exception: one whose gcc cannot find a static libc (an image
# made before it had gcc) is made again. With
# internet access none of this is needed: `docker compose` pulls the real
# images. Needs root (debootstrap) and a running Docker engine.
#
# Environment:
#   DEBIAN_MIRROR     Debian mirror for debootstrap (default: the first
#                     deb.debian.org-style URI of /etc/apt, else
#                     http://deb.debian.org/debian)
#   TWEETPIPE_CACHE   cache root: the debootstrapped root file systems are
#                     kept there as tars named after their packages (default
#                     $HOME/.cache/tweetpipe)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE_ROOT="${TWEETPIPE_CACHE:-$HOME/.cache/tweetpipe}"
SUITE=bookworm
# The root file system Kafka's and versitygw's images start from.
BASE_IMAGE=tweetpipe-local/bookworm-jre17:latest
BASE_PACKAGES=ca-certificates,openjdk-17-jre-headless
# The Go image's: the C toolchain cgo needs (the official image's gcc and
# libc6-dev); the tar and the image are named after the package list, so a
# root file system cached before a change of the list is never reused.
GO_ROOTFS_PACKAGES=ca-certificates,gcc,libc6-dev
GO_ROOTFS_IMAGE="tweetpipe-local/bookworm-minbase:${GO_ROOTFS_PACKAGES//,/_}"
# The official image's default cluster id (used when CLUSTER_ID is unset).
DEFAULT_CLUSTER_ID=5L6g3nShT-eMCtK--X86sw

log() { echo "docker-images: $*"; }
die() { echo "docker-images: error: $*" >&2; exit 1; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
# build TAG CONTEXT: the classic builder (no buildx needed); its output only
# on failure.
build() {
    local out
    out="$(DOCKER_BUILDKIT=0 docker build -t "$1" "$2" 2>&1)" || { echo "$out" >&2; die "building $1 failed"; }
}

# from_image DOCKERFILE PATTERN: the image of the FROM line matching PATTERN.
from_image() {
    sed -nE "s#^FROM ($2)( AS [A-Za-z0-9_-]+)?[[:space:]]*\$#\1#p" "$1" | sed -n 1p
}

GO_IMAGE="$(from_image "$REPO_ROOT/producer/Dockerfile" 'golang:[^ ]+')"
RUNTIME_IMAGE="$(from_image "$REPO_ROOT/producer/Dockerfile" 'gcr\.io/distroless/[^ ]+')"
KAFKA_IMAGE="$(sed -nE 's/^[[:space:]]*image:[[:space:]]*["'\'']?(apache\/kafka:[0-9][0-9A-Za-z.-]*).*/\1/p' "$REPO_ROOT/docker-compose.kafka.yml" | sed -n 1p)"
VGW_IMAGE="$(sed -nE 's/^[[:space:]]*image:[[:space:]]*["'\'']?(versity\/versitygw:v[0-9][0-9A-Za-z.-]*).*/\1/p' "$REPO_ROOT/docker-compose.apps.yml" | sed -n 1p)"
[[ -n "$GO_IMAGE" && -n "$RUNTIME_IMAGE" && -n "$KAFKA_IMAGE" && -n "$VGW_IMAGE" ]] \
    || die "could not read the image names from the Dockerfiles and the compose files"

debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local m
    m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -nE 's#^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?://[^[:space:]]*/debian/?)([[:space:]].*)?$#\3#p' \
        | grep -v security | sed -n 1p)"
    echo "${m:-http://deb.debian.org/debian}"
}

# rootfs IMAGE TAR PACKAGES: Debian minbase with PACKAGES (comma-separated),
# imported as IMAGE; the tar is cached so a pruned image comes back without
# the mirror.
rootfs() {
    local image="$1" tar="$CACHE_ROOT/docker-rootfs/$2" packages="$3"
    have "$image" && return 0
    if [[ ! -f "$tar" ]]; then
        ((EUID == 0)) || die "debootstrap needs root"
        command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
        local mirror dir
        mirror="$(debian_mirror)"
        dir="$(mktemp -d)"
        log "debootstrap $SUITE minbase + $packages from $mirror (first run only)"
        if ! debootstrap --variant=minbase --include="$packages" \
                "$SUITE" "$dir" "$mirror" >"$dir.log" 2>&1; then
            tail -n 30 "$dir.log" >&2
            rm -rf "$dir"
            die "debootstrap failed (log $dir.log)"
        fi
        rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
        mkdir -p "$(dirname "$tar")"
        tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
        mv "$tar.tmp" "$tar"
        rm -rf "$dir" "$dir.log"
    fi
    log "importing $tar as $image"
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$tar" "$image" >/dev/null
}

# base: the root file system of Kafka's and versitygw's images (its tar keeps
# the name it had before the Go image got its own).
base() { rootfs "$BASE_IMAGE" "$SUITE-minbase-jre17.tar" "$BASE_PACKAGES"; }

# has_cc IMAGE: IMAGE's gcc finds the static C library (libc6-dev's libc.a)
# the producer's build links.
has_cc() {
    local libc
    libc="$(docker run --rm --network none --entrypoint gcc "$1" -print-file-name=libc.a 2>/dev/null)" || return 1
    [[ "$libc" == /* ]]
}

golang_image() {
    if have "$GO_IMAGE"; then
        if has_cc "$GO_IMAGE"; then
            log "$GO_IMAGE exists"
            return 0
        fi
        log "$GO_IMAGE exists without gcc and a static libc (libc6-dev): making it again"
    fi
    local want goroot got ctx
    want="${GO_IMAGE#golang:}"
    want="${want%%-*}"
    command -v go >/dev/null || die "go not found: $GO_IMAGE is made from this machine's Go $want"
    goroot="$(go env GOROOT)"
    got="$(head -n1 "$goroot/VERSION")"
    [[ "$got" == "go$want" ]] || die "$GO_IMAGE needs Go $want; $goroot is $got"
    local certs=/etc/ssl/certs/ca-certificates.crt
    [[ -f "$certs" ]] || die "$certs not found (apt-get install ca-certificates)"
    rootfs "$GO_ROOTFS_IMAGE" "$SUITE-minbase-${GO_ROOTFS_PACKAGES//,/+}.tar" "$GO_ROOTFS_PACKAGES"
    ctx="$(mktemp -d)"
    cp -a "$goroot" "$ctx/go"
    # The build stage fetches modules through the site's proxy: it trusts
    # what this machine trusts (a site's own CA included).
    cp "$certs" "$ctx/ca-certificates.crt"
    cat >"$ctx/Dockerfile" <<EOF
FROM $GO_ROOTFS_IMAGE
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY go /usr/local/go
ENV GOLANG_VERSION=$want GOTOOLCHAIN=local GOPATH=/go \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go
WORKDIR /go
EOF
    log "building $GO_IMAGE from $goroot"
    build "$GO_IMAGE" "$ctx"
    rm -rf "$ctx"
    has_cc "$GO_IMAGE" || die "$GO_IMAGE: gcc does not find libc.a"
}

distroless_image() {
    if have "$RUNTIME_IMAGE"; then
        log "$RUNTIME_IMAGE exists"
        return 0
    fi
    local certs=/etc/ssl/certs/ca-certificates.crt root
    [[ -f "$certs" ]] || die "$certs not found (apt-get install ca-certificates)"
    root="$(mktemp -d)"
    mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/root"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
    cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root" "$root/home/nonroot"
    log "importing $RUNTIME_IMAGE (scratch, nonroot 65532, CA certificates)"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
        | docker import --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
            - "$RUNTIME_IMAGE" >/dev/null
    rm -rf "$root"
    # nonroot's home belongs to it, as in the real image.
    local ctx
    ctx="$(mktemp -d)"
    mkdir "$ctx/home"
    printf 'FROM %s\nCOPY --chown=65532:65532 home /home/nonroot\n' "$RUNTIME_IMAGE" >"$ctx/Dockerfile"
    build "$RUNTIME_IMAGE" "$ctx"
    rm -rf "$ctx"
}

kafka_image() {
    if have "$KAFKA_IMAGE"; then
        log "$KAFKA_IMAGE exists"
        return 0
    fi
    local libs ctx version="${KAFKA_IMAGE#apache/kafka:}"
    libs="$("$SCRIPT_DIR/kafka-local.sh" jars)"
    base
    ctx="$(mktemp -d)"
    mkdir -p "$ctx/bin" "$ctx/docker"
    cp -r "$libs" "$ctx/libs"
    tool() { # tool NAME CLASS
        cat >"$ctx/bin/$1" <<EOF
#!/usr/bin/env bash
# $1: Kafka's $2 (KAFKA_HEAP_OPTS is the broker's: not used here).
exec java -Xmx256m -XX:-UsePerfData -Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.xml \\
    -cp '/opt/kafka/libs/*' $2 "\$@"
EOF
    }
    tool kafka-broker-api-versions.sh org.apache.kafka.tools.BrokerApiVersionsCommand
    tool kafka-topics.sh org.apache.kafka.tools.TopicCommand
    tool kafka-consumer-groups.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
    tool kafka-storage.sh kafka.tools.StorageTool
    cat >"$ctx/docker/run" <<EOF
#!/usr/bin/env bash
# The entrypoint of the local apache/kafka image (scripts/docker-images.sh),
# after the official image's convention: each KAFKA_* variable but the JVM's
# own (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...) is a line of server.properties, its
# name without the prefix, in lower case, with ___ for -, __ for _ and _ for
# a dot. The data folder is formatted once with CLUSTER_ID.
set -euo pipefail
props=/opt/kafka/config/server.properties
: "\${CLUSTER_ID:=$DEFAULT_CLUSTER_ID}"
echo "===> User"
id
echo "===> Configuring ..."
: >"\$props"
for name in \$(compgen -e | grep '^KAFKA_' | sort); do
    case "\$name" in
        KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_LOG4J_OPTS | \\
            KAFKA_JMX_OPTS | KAFKA_JMX_PORT | KAFKA_JMX_HOSTNAME | KAFKA_VERSION | KAFKA_LOG4J_ROOT_LOGLEVEL | \\
            KAFKA_LOG4J_LOGGERS | KAFKA_TOOLS_LOG4J_LOGLEVEL) continue ;;
    esac
    key="\${name#KAFKA_}"
    key="\${key,,}"
    key="\${key//___/-}"
    key="\${key//__/@}"
    key="\${key//_/.}"
    key="\${key//@/_}"
    printf '%s=%s\n' "\$key" "\${!name}" >>"\$props"
done
cat "\$props"
java -Xmx256m -XX:-UsePerfData -Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.xml \\
    -cp '/opt/kafka/libs/*' kafka.tools.StorageTool format --cluster-id "\$CLUSTER_ID" \\
    --config "\$props" --ignore-formatted
echo "===> Launching ... "
# KAFKA_HEAP_OPTS and KAFKA_OPTS hold several flags: split on blanks.
# shellcheck disable=SC2086
exec java \${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \\
    -Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.xml -Dkafka.logs.dir=/opt/kafka/logs \\
    \${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' kafka.Kafka "\$props"
EOF
    cat >"$ctx/docker/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders><Console name="stdout" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
EOF
    # The Kafka tools log as kafka-local.sh's do.
    cp "$SCRIPT_DIR/kafka-tools-log4j2.xml" "$ctx/docker/tools-log4j2.xml"
    chmod 0755 "$ctx"/bin/* "$ctx/docker/run"
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN useradd --uid 1000 --user-group --create-home --home-dir /home/appuser --shell /bin/bash appuser \\
    && mkdir -p /var/lib/kafka/data /opt/kafka/config /opt/kafka/logs /mnt/shared/config /etc/kafka/docker \\
    && chown appuser:appuser /var/lib/kafka/data /opt/kafka/config /opt/kafka/logs
COPY libs /opt/kafka/libs
COPY bin /opt/kafka/bin
COPY docker /etc/kafka/docker
ENV PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.opencontainers.image.title="apache/kafka (local)" \\
      org.opencontainers.image.description="Apache Kafka $version from Maven Central's jars on Debian's OpenJDK 17, made by tweetpipe's scripts/docker-images.sh" \\
      org.opencontainers.image.version="$version"
USER appuser
WORKDIR /opt/kafka
EXPOSE 9092
CMD ["/etc/kafka/docker/run"]
EOF
    log "building $KAFKA_IMAGE from $libs"
    build "$KAFKA_IMAGE" "$ctx"
    rm -rf "$ctx"
}

versitygw_image() {
    if have "$VGW_IMAGE"; then
        log "$VGW_IMAGE exists"
        return 0
    fi
    local bin ctx got want="${VGW_IMAGE#versity/versitygw:}"
    got="$(sed -nE 's/^VERSITYGW_VERSION=(.*)$/\1/p' "$SCRIPT_DIR/s3-local.sh")"
    [[ "$got" == "$want" ]] || die "$VGW_IMAGE needs versitygw $want; scripts/s3-local.sh builds $got"
    bin="$("$SCRIPT_DIR/s3-local.sh" bin)"
    base
    ctx="$(mktemp -d)"
    cp "$bin" "$ctx/versitygw"
    cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# The entrypoint of the local versity/versitygw image (scripts/docker-images.sh):
# versitygw with the container's arguments, as the official image runs them.
exec /usr/local/bin/versitygw "$@"
EOF
    chmod 0755 "$ctx/versitygw" "$ctx/docker-entrypoint.sh"
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY versitygw docker-entrypoint.sh /usr/local/bin/
LABEL org.opencontainers.image.title="versity/versitygw (local)" \\
      org.opencontainers.image.description="versitygw $want built from the Go module proxy by tweetpipe's scripts/s3-local.sh, made by scripts/docker-images.sh" \\
      org.opencontainers.image.version="$want"
EXPOSE 7070
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
EOF
    log "building $VGW_IMAGE from $bin"
    build "$VGW_IMAGE" "$ctx"
    rm -rf "$ctx"
}

case "${1:-all}" in
    all)
        golang_image
        distroless_image
        kafka_image
        versitygw_image
        ;;
    versitygw) versitygw_image ;;
    golang) golang_image ;;
    distroless) distroless_image ;;
    kafka) kafka_image ;;
    *)
        echo "usage: $0 [all|golang|distroless|kafka|versitygw]" >&2
        exit 2
        ;;
esac
for i in "$GO_IMAGE" "$RUNTIME_IMAGE" "$KAFKA_IMAGE" "$VGW_IMAGE"; do
    have "$i" && log "$(docker image inspect --format '{{index .RepoTags 0}} {{.Id}} {{.Size}}' "$i" | awk '{printf "%s %.19s %d MB", $1, $2, $3 / 1e6}')"
done
