#!/usr/bin/env bash
# test-kafka.sh: runs the e2e suite (producer and consumer binaries, kcat and
# kafka-python interop) against a real Apache Kafka broker. Used by
# `make test-kafka` and .ci/run.
#
# By default it starts a single-node KRaft broker with scripts/kafka-local.sh
# (no Docker) and stops it on exit, whatever happens. To test against a
# broker you run yourself (e.g. `docker compose -f docker-compose.kafka.yml up`),
# set KAFKA_BROKERS and nothing is started or stopped:
#
#   KAFKA_BROKERS=localhost:9092 make test-kafka
#
# Environment:
#   KAFKA_BROKERS     use this broker instead of starting one
#   KAFKA_LOCAL_PORT  client port of the local broker (default 9092); the other
#                     KAFKA_LOCAL_* variables of kafka-local.sh apply too
#   GO_TEST_FLAGS     extra flags for go test (e.g. "-run Interop")
#
# Exported to the tests: KAFKA_BROKERS, and KAFKA_LOCAL_SCRIPT (this
# kafka-local.sh) when the broker is the local one, so that fault tests can
# kill and resume it. With the local broker it also starts a SASL_SSL broker
# (KAFKA_SECURE_BROKERS, KAFKA_SECURE_CA_FILE, KAFKA_SECURE_PASSWORD) and a
# three-broker cluster (KAFKA_CLUSTER_BROKERS) for the production tests;
# TWEETPIPE_SKIP_PRODUCTION=1 leaves those two out. S3_LOCAL_SCRIPT (this
# s3-local.sh) is exported in every case: the object-storage tests start
# their own S3-compatible server with it, each on a free port.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
KAFKA_LOCAL="$SCRIPT_DIR/kafka-local.sh"

log() { echo "test-kafka: $*"; }

started=  # set when this script started the broker (and so stops it)
started_secure=
started_cluster=
test_pid= # go test, leader of its own process group
stop_broker() {
    if [[ -n "$started_secure" ]]; then
        started_secure=
        "$KAFKA_LOCAL" stop-secure || log "warning: stopping the secure broker failed"
    fi
    if [[ -n "$started_cluster" ]]; then
        started_cluster=
        "$KAFKA_LOCAL" stop-cluster || log "warning: stopping the cluster failed"
    fi
    if [[ -n "$started" ]]; then
        started=
        "$KAFKA_LOCAL" stop || log "warning: stopping the broker failed"
    fi
}
cleanup() {
    if [[ -n "$test_pid" ]] && kill -0 "$test_pid" 2>/dev/null; then
        log "stopping go test and the services it started"
        kill -TERM -- "-$test_pid" 2>/dev/null || true
        wait "$test_pid" 2>/dev/null || true
    fi
    stop_broker
}
# EXIT covers normal ends and `set -e` failures; INT and TERM are turned into
# an exit so that EXIT runs too.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    log "using the broker at KAFKA_BROKERS=$KAFKA_BROKERS (not starting one)"
else
    if "$KAFKA_LOCAL" status >/dev/null 2>&1; then
        log "a local broker is already running; using it and leaving it running"
    else
        started=yes
        "$KAFKA_LOCAL" start
    fi
    export KAFKA_BROKERS="127.0.0.1:${KAFKA_LOCAL_PORT:-9092}"
    # Fault tests crash and resume this broker through the script.
    export KAFKA_LOCAL_SCRIPT="$KAFKA_LOCAL"
    if [[ -z "${TWEETPIPE_SKIP_PRODUCTION:-}" ]]; then
        started_secure=yes
        # start-secure prints `export KAFKA_BROKERS=... KAFKA_TLS_CA_FILE=... KAFKA_SASL_PASSWORD=...`
        # (not `tee /dev/stderr`: reopening stderr by name truncates a log file)
        secure_out="$("$KAFKA_LOCAL" start-secure)"
        echo "$secure_out"
        secure_env="$(sed -n 's/^export //p' <<<"$secure_out" | tail -n 1)"
        for kv in $secure_env; do
            case "$kv" in
                KAFKA_BROKERS=*) export KAFKA_SECURE_BROKERS="${kv#*=}" ;;
                KAFKA_TLS_CA_FILE=*) export KAFKA_SECURE_CA_FILE="${kv#*=}" ;;
                KAFKA_SASL_PASSWORD=*) export KAFKA_SECURE_PASSWORD="${kv#*=}" ;;
            esac
        done
        [[ -n "${KAFKA_SECURE_BROKERS:-}" ]] || { log "start-secure printed no broker address"; exit 1; }
        started_cluster=yes
        cluster_out="$("$KAFKA_LOCAL" start-cluster)"
        echo "$cluster_out"
        cluster_env="$(sed -n 's/^export KAFKA_BROKERS=//p' <<<"$cluster_out" | tail -n 1)"
        [[ -n "$cluster_env" ]] || { log "start-cluster printed no broker addresses"; exit 1; }
        export KAFKA_CLUSTER_BROKERS="$cluster_env"
        log "SASL_SSL broker at $KAFKA_SECURE_BROKERS, three-broker cluster at $KAFKA_CLUSTER_BROKERS"
    fi
fi

export S3_LOCAL_SCRIPT="$SCRIPT_DIR/s3-local.sh"

log "go test -race -count=1 -timeout 40m -v ${GO_TEST_FLAGS:+$GO_TEST_FLAGS }./... in e2e/ with KAFKA_BROKERS=$KAFKA_BROKERS"
# go test runs in its own process group, in the background: a signal to this
# script interrupts `wait` at once, and cleanup stops the whole group (the
# test binary and the producers and consumers it runs) before the broker.
# shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
setsid bash -c 'cd "$1" && exec go test -race -count=1 -timeout 40m -v $2 ./...' go-test "$REPO_ROOT/e2e" "${GO_TEST_FLAGS:-}" &
test_pid=$!
status=0
wait "$test_pid" || status=$?
test_pid=

if ((status != 0)); then
    server_log="${KAFKA_LOCAL_DIR:-$REPO_ROOT/.kafka-local}/node-1/logs/server.log"
    if [[ -n "$started" && -f "$server_log" ]]; then
        echo "----- last 30 lines of $server_log -----"
        tail -n 30 "$server_log"
    fi
fi
stop_broker

if ((status != 0)); then
    log "FAILED (go test exit status $status)"
    exit "$status"
fi
log "passed"
