#!/usr/bin/env bash
# docker-engine.sh install|start|stop|compose
#
# A Docker engine and Compose v2 on a Debian machine that has neither, for CI
# and for air-gapped sites that mirror Debian and the Go module proxy:
#
#   install   apt-get install docker.io (Engine 20.10 on bookworm) and
#             debootstrap (scripts/docker-images.sh needs it); as root.
#   start     starts dockerd in the background (unless `docker info`
#             already answers) and waits until it does; as root. Its log
#             goes to $TWEETPIPE_DOCKERD_LOG.
#   stop      stops the dockerd that `start` started (by its pid file).
#   compose   builds Compose v2 $COMPOSE_VERSION from the Go module proxy
#             into $TWEETPIPE_CACHE/compose-$COMPOSE_VERSION and installs it
#             as a CLI plugin (~/.docker/cli-plugins/docker-compose of the
#             user who runs it, and /usr/local/lib/docker/cli-plugins when
#             run as root, so every user has it). A cached binary of the
#             same version is reused.
#
# Environment:
#   COMPOSE_VERSION       Compose v2 version          (default v2.40.3)
#   TWEETPIPE_CACHE       cache root                  (default $HOME/.cache/tweetpipe)
#   TWEETPIPE_DOCKERD_LOG dockerd's log               (default /var/log/tweetpipe-dockerd.log)
#   DOCKERD_START_TIMEOUT seconds to wait for dockerd (default 60)
#
# `go install github.com/docker/compose/v2/cmd@v2.40.3` is refused (its
# go.mod has exclude directives), so a tiny module that requires it builds
# github.com/docker/compose/v2/cmd instead. Without buildx, Compose builds
# with the engine's classic builder: DOCKER_BUILDKIT=0 and COMPOSE_BAKE=false
# (the Makefile sets neither; the caller exports them where buildx is
# missing, as .ci/run does).
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
CACHE_ROOT="${TWEETPIPE_CACHE:-$HOME/.cache/tweetpipe}"
DOCKERD_LOG="${TWEETPIPE_DOCKERD_LOG:-/var/log/tweetpipe-dockerd.log}"
DOCKERD_PID=/run/tweetpipe-dockerd.pid
START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"

log() { echo "docker-engine: $*"; }
die() { echo "docker-engine: error: $*" >&2; exit 1; }
need_root() { ((EUID == 0)) || die "$1 needs root"; }

cmd_install() {
    need_root install
    export DEBIAN_FRONTEND=noninteractive
    if command -v dockerd >/dev/null && command -v debootstrap >/dev/null; then
        log "docker.io and debootstrap already installed"
    else
        apt-get update -q
        apt-get install -y -q --no-install-recommends docker.io debootstrap ca-certificates
    fi
    dockerd --version
}

cmd_start() {
    need_root start
    if docker info >/dev/null 2>&1; then
        log "dockerd already answers"
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd not found: run $0 install"
    log "starting dockerd (log $DOCKERD_LOG)"
    # setsid: the engine outlives this script and ignores the caller's Ctrl-C.
    setsid dockerd --pidfile "$DOCKERD_PID" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local deadline=$((SECONDS + START_TIMEOUT))
    until docker info >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            tail -n 30 "$DOCKERD_LOG" >&2
            die "dockerd did not answer within ${START_TIMEOUT}s"
        fi
        sleep 1
    done
    log "dockerd $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
}

cmd_stop() {
    need_root stop
    local pid
    [[ -f "$DOCKERD_PID" ]] || { log "no pid file $DOCKERD_PID: not started by this script"; return 0; }
    pid="$(cat "$DOCKERD_PID")"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
    log "dockerd (pid $pid) stopped"
}

cmd_compose() {
    local dir="$CACHE_ROOT/compose-$COMPOSE_VERSION" bin
    bin="$dir/docker-compose"
    if [[ ! -x "$bin" ]]; then
        command -v go >/dev/null || die "go not found (needed to build Compose $COMPOSE_VERSION)"
        log "building Compose $COMPOSE_VERSION from the Go module proxy into $dir (first run only)"
        rm -rf "$dir"
        mkdir -p "$dir/src"
        cat >"$dir/src/go.mod" <<'EOF'
module tweetpipe.local/compose
EOF
        cat >"$dir/src/tools.go" <<'EOF'
//go:build tools

// Package compose only pins the Compose v2 module that builds docker-compose.
package compose

import _ "github.com/docker/compose/v2/cmd"
EOF
        (
            cd "$dir/src"
            export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"
            go get "github.com/docker/compose/v2@$COMPOSE_VERSION"
            CGO_ENABLED=0 go build -trimpath \
                -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
                -o "$bin.tmp" github.com/docker/compose/v2/cmd
        ) || { rm -rf "$dir"; die "building Compose $COMPOSE_VERSION failed"; }
        mv "$bin.tmp" "$bin"
    fi
    local plugins=("$HOME/.docker/cli-plugins")
    ((EUID == 0)) && plugins+=(/usr/local/lib/docker/cli-plugins)
    for p in "${plugins[@]}"; do
        mkdir -p "$p"
        install -m 0755 "$bin" "$p/docker-compose"
    done
    docker compose version
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    compose) cmd_compose ;;
    *)
        echo "usage: $0 install|start|stop|compose" >&2
        exit 2
        ;;
esac
