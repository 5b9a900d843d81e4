#!/usr/bin/env bash
# s3-local.sh start|stop|status|kill|resume|bin
#
# Runs an S3-compatible server on 127.0.0.1 without Docker: versitygw serving
# a folder (its posix backend), for the consumer's object-storage output and
# its tests. `start` creates the bucket and prints the settings a consumer
# needs, as `export` lines:
#
#   export S3_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... OUTPUT_URL=s3://tweetpipe/archive
#
# `kill` SIGKILLs the server and keeps its data, `resume` starts it again on
# that data (for tests that restart the server mid-upload); `stop` SIGTERMs
# it; the data stays until the next `start`, which begins empty. `bin` prints
# the server's path, building it first. `status` exits 0 only while it runs.
#
# The server is built once from the Go module proxy (a throwaway module that
# imports github.com/versity/versitygw/cmd/versitygw, as docker-engine.sh
# builds Compose) and cached, so only the first start needs the network.
#
# Environment:
#   S3_LOCAL_PORT           port of the S3 API               (default 9000)
#   S3_LOCAL_DIR            objects, log, pid file           (default <repo>/.s3-local)
#   S3_LOCAL_BUCKET         bucket made by start             (default tweetpipe)
#   S3_LOCAL_PREFIX         prefix in OUTPUT_URL             (default archive)
#   S3_LOCAL_ACCESS_KEY     the server's root access key     (default tweetpipe-test)
#   S3_LOCAL_SECRET_KEY     its secret key                   (default tweetpipe-test-secret)
#   S3_LOCAL_START_TIMEOUT  seconds to wait for readiness    (default 30)
#   TWEETPIPE_CACHE         build cache root                 (default $HOME/.cache/tweetpipe)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

VERSITYGW_VERSION=v1.8.0
HOST=127.0.0.1
PORT="${S3_LOCAL_PORT:-9000}"
BASE_DIR="${S3_LOCAL_DIR:-$REPO_ROOT/.s3-local}"
BUCKET="${S3_LOCAL_BUCKET:-tweetpipe}"
PREFIX="${S3_LOCAL_PREFIX:-archive}"
ACCESS_KEY="${S3_LOCAL_ACCESS_KEY:-tweetpipe-test}"
SECRET_KEY="${S3_LOCAL_SECRET_KEY:-tweetpipe-test-secret}"
START_TIMEOUT="${S3_LOCAL_START_TIMEOUT:-30}"
CACHE_ROOT="${TWEETPIPE_CACHE:-$HOME/.cache/tweetpipe}"

DATA_DIR="$BASE_DIR/data"
PID_FILE="$BASE_DIR/versitygw.pid"
LOG_FILE="$BASE_DIR/versitygw.log"
# The SHA-256 of an empty payload, which SigV4 requires as a header.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

log() { echo "s3-local: $*" >&2; }
die() { echo "s3-local: error: $*" >&2; exit 1; }

# ensure_bin: prints the cached server binary, building it on first use.
ensure_bin() {
    local dir="$CACHE_ROOT/versitygw-$VERSITYGW_VERSION" bin
    bin="$dir/versitygw"
    if [[ ! -x "$bin" ]]; then
        command -v go >/dev/null || die "go not found (needed once to build versitygw $VERSITYGW_VERSION)"
        log "building versitygw $VERSITYGW_VERSION from the Go module proxy into $dir (first run only)"
        rm -rf "$dir"
        mkdir -p "$dir/src"
        cat >"$dir/src/go.mod" <<'EOF'
module tweetpipe.local/versitygw
EOF
        cat >"$dir/src/tools.go" <<'EOF'
//go:build tools

// Package versitygw only pins the versitygw module that builds the S3 server.
package versitygw

import _ "github.com/versity/versitygw/cmd/versitygw"
EOF
        (
            cd "$dir/src"
            export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"
            go get "github.com/versity/versitygw@$VERSITYGW_VERSION"
            CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" github.com/versity/versitygw/cmd/versitygw
        ) >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; rm -rf "$dir"; die "building versitygw $VERSITYGW_VERSION failed"; }
        mv "$bin.tmp" "$bin"
    fi
    echo "$bin"
}

server_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# s3 METHOD PATH: a SigV4-signed request with an empty body; prints the
# HTTP status.
s3() {
    curl -sS -o "$BASE_DIR/last-response.xml" -w '%{http_code}' -X "$1" \
        -H "x-amz-content-sha256: $EMPTY_SHA256" \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        "http://$HOST:$PORT$2"
}

exports() {
    printf 'export S3_ENDPOINT=%q AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q OUTPUT_URL=%q\n' \
        "http://$HOST:$PORT" "$ACCESS_KEY" "$SECRET_KEY" "s3://$BUCKET/$PREFIX"
}

# launch: starts the server on DATA_DIR and waits until it answers a
# signed request.
launch() {
    local bin deadline code pid
    bin="$(ensure_bin)"
    port_open "$HOST" "$PORT" && die "$HOST:$PORT is already in use by another process"
    mkdir -p "$DATA_DIR"
    ROOT_ACCESS_KEY="$ACCESS_KEY" ROOT_SECRET_KEY="$SECRET_KEY" \
        setsid "$bin" --port "$HOST:$PORT" posix "$DATA_DIR" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG_FILE" >&2; die "versitygw exited during startup (log $LOG_FILE)"; }
        if port_open "$HOST" "$PORT"; then
            code="$(s3 GET / 2>/dev/null || true)"
            [[ "$code" == 200 ]] && return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$LOG_FILE" >&2
    kill -KILL "$pid" 2>/dev/null || true
    die "versitygw not ready after ${START_TIMEOUT}s (log $LOG_FILE)"
}

cmd_start() {
    local pid code
    [[ "$BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "S3_LOCAL_BUCKET=$BUCKET is not a bucket name"
    command -v curl >/dev/null || die "curl not found (it creates the bucket)"
    if pid="$(server_pid)"; then
        log "already running (pid $pid) on $HOST:$PORT"
        exports
        return 0
    fi
    rm -rf "$DATA_DIR"
    mkdir -p "$BASE_DIR"
    : >"$LOG_FILE"
    launch
    code="$(s3 PUT "/$BUCKET")"
    [[ "$code" == 200 ]] || { cat "$BASE_DIR/last-response.xml" >&2; die "creating bucket $BUCKET: HTTP $code"; }
    log "versitygw $VERSITYGW_VERSION running (pid $(cat "$PID_FILE")) on http://$HOST:$PORT, bucket $BUCKET, objects in $DATA_DIR/$BUCKET"
    exports
}

cmd_resume() {
    local pid
    if pid="$(server_pid)"; then
        log "already running (pid $pid)"
        return 0
    fi
    [[ -d "$DATA_DIR" ]] || die "no data in $DATA_DIR: use start"
    launch
    log "resumed (pid $(cat "$PID_FILE")) on the data in $DATA_DIR"
}

cmd_stop() {
    local pid
    if ! pid="$(server_pid)"; then
        rm -f "$PID_FILE"
        log "stopped (was not running)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_kill() {
    local pid
    pid="$(server_pid)" || die "not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$PID_FILE"
    log "killed (pid $pid); its data stays in $DATA_DIR"
}

cmd_status() {
    local pid
    if pid="$(server_pid)"; then
        log "running (pid $pid) on http://$HOST:$PORT, log $LOG_FILE"
        return 0
    fi
    log "not running"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill) cmd_kill ;;
    resume) cmd_resume ;;
    bin) ensure_bin ;;
    *)
        echo "usage: $0 start|stop|status|kill|resume|bin" >&2
        exit 2
        ;;
esac
