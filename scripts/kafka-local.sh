#!/usr/bin/env bash
# kafka-local.sh start|stop|status|kill|resume
#                start-secure|stop-secure|status-secure
#                start-cluster|stop-cluster|status-cluster|kill-node N|resume-node N
#                leader TOPIC PARTITION
#                jars
#
# Runs Apache Kafka in KRaft mode on 127.0.0.1 without Docker, in three modes
# that can run side by side (each has its own ports and its own directory):
#
#   start          one node (broker+controller in one JVM), PLAINTEXT client
#                  port 9092. Dir $KAFKA_LOCAL_DIR/node-1.
#   start-secure   one node whose only client listener is SASL_SSL (port
#                  9095): TLS with a test CA and broker certificate made by
#                  scripts/kafka-certs.sh, SASL PLAIN, SCRAM-SHA-256 and
#                  SCRAM-SHA-512. Inter-broker traffic uses the same SASL_SSL
#                  listener (SCRAM-SHA-512, user "admin"); the KRaft controller
#                  listener is PLAINTEXT on its own loopback port. No
#                  authorizer: any authenticated user may do anything.
#                  Dir $KAFKA_LOCAL_DIR/secure/{node-1,certs}.
#   start-cluster  three combined broker+controller nodes with a static quorum
#                  (controller.quorum.voters), client ports 19092, 29092,
#                  39092, replication factor 3, min.insync.replicas=2, unclean
#                  leader election off. One node may die: the quorum (2 of 3)
#                  and acks=all writes (2 in sync) go on; with two down there
#                  is neither. Dir $KAFKA_LOCAL_DIR/cluster/node-{1,2,3}.
#
# Every start formats fresh data; kill/kill-node SIGKILL a node and keep its
# data, resume/resume-node start it again on that data. `leader` prints the
# node id leading a partition in the cluster (for tests that kill the leader).
# `jars` prints the folder of the broker's cached jars, fetching them first
# (scripts/docker-images.sh builds the apache/kafka image from them).
# The status-* commands exit 0 only when everything of that mode runs.
#
# The broker's jars are resolved from Maven Central with Maven and cached, so
# only the first start needs the network.
#
# The Kafka version is named in ONE place: the `image: apache/kafka:<version>`
# line of docker-compose.kafka.yml; this script parses it from there.
#
# Environment:
#   KAFKA_LOCAL_PORT             client (PLAINTEXT) port       (default 9092)
#   KAFKA_LOCAL_CONTROLLER_PORT  KRaft controller port         (default 9093)
#   KAFKA_LOCAL_DIR              data, logs, config, pid file  (default <repo>/.kafka-local)
#   KAFKA_LOCAL_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFKA_LOCAL_STOP_TIMEOUT     seconds to wait after SIGTERM (default 60)
#   TWEETPIPE_CACHE              jar cache root                (default $HOME/.cache/tweetpipe)
#   JAVA_HOME                    Java 17+ to use (default: java on PATH)
# secure mode:
#   KAFKA_LOCAL_SECURE_PORT             SASL_SSL client port   (default 9095)
#   KAFKA_LOCAL_SECURE_CONTROLLER_PORT  controller port        (default 9096)
#   KAFKA_LOCAL_SASL_USERNAME           client user            (default tweetpipe)
#   KAFKA_LOCAL_SASL_PASSWORD           its password, for PLAIN, SCRAM-SHA-256
#                                       and SCRAM-SHA-512      (default tweetpipe-test-secret)
#   KAFKA_LOCAL_SASL_ADMIN_PASSWORD     inter-broker user "admin" (default admin-test-secret)
#   KAFKA_LOCAL_TLS_STORE_PASSWORD      keystore/truststore    (default tweetpipe-test-store)
#   KAFKA_LOCAL_TLS_CLIENT_AUTH         client certificates: none, requested
#                                       or required            (default requested)
#   KAFKA_CERTS_EXTRA_SANS              more broker certificate SANs (see kafka-certs.sh)
#   Passwords: letters, digits and . _ ~ @ % + - only (they go into JAAS and
#   --add-scram strings unescaped).
# cluster mode:
#   KAFKA_LOCAL_CLUSTER_PORT_{1,2,3}             client ports     (default 19092 29092 39092)
#   KAFKA_LOCAL_CLUSTER_CONTROLLER_PORT_{1,2,3}  controller ports (default 19093 29093 39093)
#   KAFKA_LOCAL_CLUSTER_HEAP                     JVM heap flags per node (default "-Xmx384m -Xms128m")
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
COMPOSE_FILE="$REPO_ROOT/docker-compose.kafka.yml"

HOST=127.0.0.1
PORT="${KAFKA_LOCAL_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_LOCAL_CONTROLLER_PORT:-9093}"
BASE_DIR="${KAFKA_LOCAL_DIR:-$REPO_ROOT/.kafka-local}"
START_TIMEOUT="${KAFKA_LOCAL_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_LOCAL_STOP_TIMEOUT:-60}"
CACHE_ROOT="${TWEETPIPE_CACHE:-$HOME/.cache/tweetpipe}"

SECURE_PORT="${KAFKA_LOCAL_SECURE_PORT:-9095}"
SECURE_CONTROLLER_PORT="${KAFKA_LOCAL_SECURE_CONTROLLER_PORT:-9096}"
SASL_USERNAME="${KAFKA_LOCAL_SASL_USERNAME:-tweetpipe}"
SASL_PASSWORD="${KAFKA_LOCAL_SASL_PASSWORD:-tweetpipe-test-secret}"
SASL_ADMIN_USERNAME="admin"
SASL_ADMIN_PASSWORD="${KAFKA_LOCAL_SASL_ADMIN_PASSWORD:-admin-test-secret}"
TLS_STORE_PASSWORD="${KAFKA_LOCAL_TLS_STORE_PASSWORD:-tweetpipe-test-store}"
TLS_CLIENT_AUTH="${KAFKA_LOCAL_TLS_CLIENT_AUTH:-requested}"

CLUSTER_SIZE=3
CLUSTER_PORTS=("${KAFKA_LOCAL_CLUSTER_PORT_1:-19092}" "${KAFKA_LOCAL_CLUSTER_PORT_2:-29092}" "${KAFKA_LOCAL_CLUSTER_PORT_3:-39092}")
CLUSTER_CONTROLLER_PORTS=("${KAFKA_LOCAL_CLUSTER_CONTROLLER_PORT_1:-19093}" "${KAFKA_LOCAL_CLUSTER_CONTROLLER_PORT_2:-29093}" "${KAFKA_LOCAL_CLUSTER_CONTROLLER_PORT_3:-39093}")
CLUSTER_HEAP="${KAFKA_LOCAL_CLUSTER_HEAP:--Xmx384m -Xms128m}"

# Logging binding for the broker. Kafka 4.x logs through SLF4J 1.7 (its pom
# pulls slf4j-api 1.7.36) and its pom has no binding, so without one the broker
# logs nothing at all. The 1.x binding is log4j-slf4j-impl (log4j-slf4j2-impl
# would need slf4j-api 2.x); the version matches the Kafka 4.1 distribution.
LOG4J_VERSION=2.24.3
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

log() { echo "kafka-local: $*"; }
die() { echo "kafka-local: error: $*" >&2; exit 1; }

# --- version & jars ---------------------------------------------------------

kafka_version() {
    [[ -f "$COMPOSE_FILE" ]] || die "$COMPOSE_FILE not found (it names the Kafka version)"
    local v
    v="$(sed -nE 's/^[[:space:]]*image:[[:space:]]*["'\'']?apache\/kafka:([0-9][0-9A-Za-z.-]*)["'\'']?[[:space:]]*(#.*)?$/\1/p' "$COMPOSE_FILE" | sed -n 1p)"
    [[ -n "$v" ]] || die "no 'image: apache/kafka:<version>' line in $COMPOSE_FILE"
    echo "$v"
}

java_bin() {
    local j="java"
    [[ -n "${JAVA_HOME:-}" ]] && j="$JAVA_HOME/bin/java"
    command -v "$j" >/dev/null 2>&1 || die "java not found (need Java 17+; set JAVA_HOME)"
    local major
    major="$("$j" -XshowSettings:properties -version 2>&1 | sed -nE 's/^[[:space:]]*java\.specification\.version = ([0-9.]+)$/\1/p')"
    [[ "${major%%.*}" =~ ^[0-9]+$ && "${major%%.*}" -ge 17 ]] \
        || die "Kafka 4.x brokers need Java 17+, $j is ${major:-unknown}"
    echo "$j"
}

# Prints the directory holding every jar the broker (and the tools used for
# the readiness check) needs; resolves them with Maven on first use.
ensure_jars() {
    local version="$1"
    local dir="$CACHE_ROOT/kafka-$version"
    local libs="$dir/libs"
    local pom
    pom="$(jar_pom "$version")"
    # The cache is valid only for the exact pom that filled it, so changing
    # the jar list (or the log4j version) above re-resolves automatically.
    if [[ -f "$dir/.complete" && -f "$dir/pom.xml" && "$(cat "$dir/pom.xml")" == "$pom" ]] \
            && compgen -G "$libs/kafka_2.13-$version.jar" >/dev/null; then
        echo "$libs"
        return
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the Kafka $version jars)"
    log "fetching Apache Kafka $version jars with Maven into $dir (first run only)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '%s\n' "$pom" >"$dir/pom.xml"
    if ! mvn -q -B -f "$dir/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
            -DincludeScope=runtime -DoutputDirectory="$libs" >"$dir/mvn.log" 2>&1; then
        cat "$dir/mvn.log" >&2
        rm -rf "$dir"
        die "could not resolve org.apache.kafka:kafka_2.13:$version with Maven"
    fi
    rm -rf "$dir/target"
    compgen -G "$libs/kafka_2.13-$version.jar" >/dev/null || die "kafka_2.13-$version.jar missing after Maven run"
    touch "$dir/.complete"
    echo "$libs"
}

# jar_pom VERSION: the throwaway pom whose runtime dependencies are the broker.
jar_pom() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka-local.sh: only used to resolve jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tweetpipe.local</groupId>
  <artifactId>kafka-local-broker</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- the broker (kafka.Kafka, kafka.tools.StorageTool) -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$1</version></dependency>
    <!-- BrokerApiVersionsCommand, used for the readiness check -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$1</version></dependency>
    <!-- logging binding: SLF4J 1.7 -> Log4j 2 -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

# --- per-node config ----------------------------------------------------------

# write_node_config NODE_ID CLIENT_PORT CONTROLLER_PORT NODE_DIR [VOTERS [SECURITY [REPLICATION]]]
#   VOTERS empty: a single-node dynamic quorum (formatted with --standalone).
#   VOTERS "1@127.0.0.1:9093,2@...": a static quorum for a multi-node cluster.
#   SECURITY plaintext (default) or sasl_ssl: the protocol of the client (and
#     inter-broker) listener; sasl_ssl reads the TLS material from $CERTS_DIR.
#   REPLICATION 1 (default) or 3: replication factors of internal and new
#     topics; with 3, min.insync.replicas=2.
# Writes NODE_DIR/server.properties and NODE_DIR/log4j2.xml.
write_node_config() {
    local node_id="$1" client_port="$2" controller_port="$3" node_dir="$4" voters="${5:-}"
    local security="${6:-plaintext}" replication="${7:-1}"
    mkdir -p "$node_dir/data" "$node_dir/logs"
    local quorum
    if [[ -z "$voters" ]]; then
        quorum="controller.quorum.bootstrap.servers=$HOST:$controller_port"
    else
        quorum="controller.quorum.voters=$voters"
    fi
    (
        umask 077 # the sasl_ssl config holds passwords
        cat >"$node_dir/server.properties" <<EOF
# Generated by scripts/kafka-local.sh - rewritten on every start.
process.roles=broker,controller
node.id=$node_id
$quorum

$(listener_config "$security" "$client_port" "$controller_port")

log.dirs=$node_dir/data

num.partitions=3
auto.create.topics.enable=false
$(replication_config "$replication")
group.initial.rebalance.delay.ms=0
EOF
        if [[ "$security" == sasl_ssl ]]; then
            sasl_ssl_config >>"$node_dir/server.properties"
        fi
    )
    # Broker logs go to a file at INFO; nothing goes to the console.
    cat >"$node_dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="server" fileName="$node_dir/logs/server.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <!-- per-request chatter, as in Kafka's own log4j2.yaml -->
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
  </Loggers>
</Configuration>
EOF
}

# listener_config SECURITY CLIENT_PORT CONTROLLER_PORT: the listener lines.
# The controller listener is PLAINTEXT on loopback in every mode.
listener_config() {
    local security="$1" client_port="$2" controller_port="$3"
    case "$security" in
        plaintext)
            cat <<EOF
listeners=PLAINTEXT://$HOST:$client_port,CONTROLLER://$HOST:$controller_port
advertised.listeners=PLAINTEXT://$HOST:$client_port,CONTROLLER://$HOST:$controller_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
EOF
            ;;
        sasl_ssl)
            cat <<EOF
listeners=SASL_SSL://$HOST:$client_port,CONTROLLER://$HOST:$controller_port
advertised.listeners=SASL_SSL://$HOST:$client_port,CONTROLLER://$HOST:$controller_port
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
EOF
            ;;
        *) die "unknown listener security '$security'" ;;
    esac
}

# replication_config 1|3: replication of internal topics and topic defaults.
replication_config() {
    case "$1" in
        1)
            cat <<EOF
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
            ;;
        3)
            cat <<EOF
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
# Failure detection, a little faster than the defaults (2s/9s/30s) for tests
# that kill a node: the controller fences a silent broker after 6s (moving
# its leaderships and dropping it from every ISR); a stuck follower leaves
# the ISR after 10s.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
replica.lag.time.max.ms=10000
EOF
            ;;
        *) die "unsupported replication factor '$1'" ;;
    esac
}

# sasl_ssl_config: TLS and SASL settings of the SASL_SSL listener. Users:
#   PLAIN: listed in the listener's JAAS config (user_<name>="<password>").
#   SCRAM: stored in the cluster metadata, added when formatting (scram_args).
# The broker authenticates to itself/other brokers as $SASL_ADMIN_USERNAME
# with SCRAM-SHA-512.
sasl_ssl_config() {
    local plain="org.apache.kafka.common.security.plain.PlainLoginModule"
    local scram="org.apache.kafka.common.security.scram.ScramLoginModule"
    cat <<EOF

# --- TLS (test CA from scripts/kafka-certs.sh) ---
ssl.keystore.type=PKCS12
ssl.keystore.location=$CERTS_DIR/broker.p12
ssl.keystore.password=$TLS_STORE_PASSWORD
ssl.key.password=$TLS_STORE_PASSWORD
ssl.truststore.type=PKCS12
ssl.truststore.location=$CERTS_DIR/truststore.p12
ssl.truststore.password=$TLS_STORE_PASSWORD
# Client certificates (mutual TLS): none, requested or required; SASL still
# decides who a client is. (Unprefixed, it would apply to SSL listeners only.)
listener.name.sasl_ssl.ssl.client.auth=$TLS_CLIENT_AUTH
ssl.enabled.protocols=TLSv1.2,TLSv1.3
ssl.endpoint.identification.algorithm=https

# --- SASL ---
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=$plain required username="$SASL_ADMIN_USERNAME" password="$SASL_ADMIN_PASSWORD" user_$SASL_ADMIN_USERNAME="$SASL_ADMIN_PASSWORD" user_$SASL_USERNAME="$SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram required username="$SASL_ADMIN_USERNAME" password="$SASL_ADMIN_PASSWORD";
# No authorizer is configured, so super.users is not needed: every
# authenticated principal may do anything.
EOF
}

# scram_args: StorageTool arguments that store the SCRAM credentials in the
# initial cluster metadata (KRaft has no ZooKeeper to write them to).
scram_args() {
    printf '%s\n' \
        --add-scram "SCRAM-SHA-512=[name=$SASL_ADMIN_USERNAME,password=$SASL_ADMIN_PASSWORD]" \
        --add-scram "SCRAM-SHA-256=[name=$SASL_USERNAME,password=$SASL_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=$SASL_USERNAME,password=$SASL_PASSWORD]"
}

# format_node LIBS NODE_DIR CLUSTER_ID [standalone|static [STORAGE_TOOL_ARGS...]]
format_node() {
    local libs="$1" node_dir="$2" cluster_id="$3" mode="${4:-standalone}"
    local args=(format --cluster-id "$cluster_id" --config "$node_dir/server.properties")
    [[ "$mode" == standalone ]] && args+=(--standalone)
    (($# > 4)) && args+=("${@:5}")
    "$JAVA" -cp "$libs/*" -Dlog4j2.configurationFile="$node_dir/log4j2.xml" \
        kafka.tools.StorageTool "${args[@]}" >"$node_dir/logs/format.log" 2>&1 \
        || { cat "$node_dir/logs/format.log" >&2; die "formatting $node_dir/data failed"; }
}

# start_node LIBS NODE_DIR [HEAP_FLAGS]: launches the JVM detached, writes
# NODE_DIR/kafka.pid.
start_node() {
    local libs="$1" node_dir="$2" heap heap_flags="${3:--Xmx512m -Xms256m}"
    read -r -a heap <<<"$heap_flags"
    # setsid: the broker must outlive this script and not get the caller's
    # terminal signals (Ctrl-C in the shell that ran `start`).
    setsid "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$node_dir/log4j2.xml" \
        -Dkafka.logs.dir="$node_dir/logs" \
        -cp "$libs/*" kafka.Kafka "$node_dir/server.properties" \
        </dev/null >"$node_dir/logs/stdout.log" 2>&1 &
    echo $! >"$node_dir/kafka.pid"
}

# node_pid NODE_DIR: prints the pid if that node's broker is running.
node_pid() {
    local pidfile="$1/kafka.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: it must be a java process running kafka.Kafka.
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *'kafka.Kafka '* ]] || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_node_ready LIBS NODE_DIR CLIENT_PORT TIMEOUT_SECONDS [COMMAND_CONFIG [FROM_LINE]]
#   COMMAND_CONFIG: client properties for the check (e.g. SASL_SSL settings).
#   FROM_LINE: only server.log lines from this one on count (a resumed node's
#   log still holds the previous run's "started" line).
wait_node_ready() {
    local libs="$1" node_dir="$2" client_port="$3" timeout="$4" command_config="${5:-}" from="${6:-1}"
    local deadline=$((SECONDS + timeout))
    local extra=()
    [[ -n "$command_config" ]] && extra=(--command-config "$command_config")
    while ((SECONDS < deadline)); do
        node_pid "$node_dir" >/dev/null || { log "broker process exited during startup"; return 1; }
        if awk -v from="$from" 'NR >= from && /Kafka Server started/ { found = 1; exit } END { exit !found }' \
                "$node_dir/logs/server.log" 2>/dev/null \
                && port_open "$HOST" "$client_port"; then
            # The broker answers Kafka API requests (not just TCP): ask it.
            if timeout 30 "$JAVA" -Xmx128m -cp "$libs/*" \
                    -Dlog4j2.configurationFile="$node_dir/log4j2-tools.xml" \
                    org.apache.kafka.tools.BrokerApiVersionsCommand \
                    --bootstrap-server "$HOST:$client_port" "${extra[@]}" >"$node_dir/logs/api-versions.log" 2>&1; then
                return 0
            fi
        fi
        sleep 1
    done
    log "broker not ready after ${timeout}s"
    return 1
}

# write_tools_log_config DIR: the log4j2 configuration of the Kafka tools
# this script runs (warnings and errors, to stderr), as DIR/log4j2-tools.xml.
# scripts/docker-images.sh puts the same file in the apache/kafka image.
write_tools_log_config() {
    cp "$SCRIPT_DIR/kafka-tools-log4j2.xml" "$1/log4j2-tools.xml"
}

# stop_node NODE_DIR
stop_node() {
    local node_dir="$1" pid
    pid="$(node_pid "$node_dir")" || { rm -f "$node_dir/kafka.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        log "broker (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$node_dir/kafka.pid"
}

# --- commands ---------------------------------------------------------------

NODE_DIR="$BASE_DIR/node-1"

cmd_start() {
    local version pid libs cluster_id t0=$SECONDS
    version="$(kafka_version)"
    if pid="$(node_pid "$NODE_DIR")"; then
        log "already running (pid $pid) on $HOST:$PORT"
        echo "export KAFKA_BROKERS=$HOST:$PORT"
        return 0
    fi
    port_open "$HOST" "$PORT" && die "$HOST:$PORT is already in use by another process"
    port_open "$HOST" "$CONTROLLER_PORT" && die "$HOST:$CONTROLLER_PORT is already in use by another process"
    JAVA="$(java_bin)"
    libs="$(ensure_jars "$version")"

    # A fresh node directory (data, logs, config) on every start.
    rm -rf "$NODE_DIR"
    write_node_config 1 "$PORT" "$CONTROLLER_PORT" "$NODE_DIR"
    write_tools_log_config "$NODE_DIR"
    cluster_id="$("$JAVA" -cp "$libs/*" -Dlog4j2.configurationFile="$NODE_DIR/log4j2-tools.xml" \
        kafka.tools.StorageTool random-uuid)"
    format_node "$libs" "$NODE_DIR" "$cluster_id" standalone

    log "starting Apache Kafka $version on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT, dir $NODE_DIR)"
    start_node "$libs" "$NODE_DIR"
    if ! wait_node_ready "$libs" "$NODE_DIR" "$PORT" "$START_TIMEOUT"; then
        echo "----- last 40 lines of $NODE_DIR/logs/server.log -----" >&2
        tail -n 40 "$NODE_DIR/logs/server.log" >&2 2>/dev/null || true
        echo "----- $NODE_DIR/logs/stdout.log -----" >&2
        tail -n 20 "$NODE_DIR/logs/stdout.log" >&2 2>/dev/null || true
        stop_node "$NODE_DIR"
        exit 1
    fi
    log "ready (pid $(cat "$NODE_DIR/kafka.pid"), $((SECONDS - t0))s)"
    echo "export KAFKA_BROKERS=$HOST:$PORT"
}

cmd_stop() {
    local pid
    if pid="$(node_pid "$NODE_DIR")"; then
        stop_node "$NODE_DIR"
        log "stopped (pid $pid)"
    else
        rm -f "$NODE_DIR/kafka.pid"
        log "stopped (was not running)"
    fi
}

cmd_status() {
    local pid
    if pid="$(node_pid "$NODE_DIR")"; then
        log "running (pid $pid) on $HOST:$PORT, logs $NODE_DIR/logs/server.log"
        return 0
    fi
    log "not running"
    return 1
}

# kill: SIGKILL the broker, as a crash would (for fault tests); its data stays.
cmd_kill() {
    kill_node_dir "$NODE_DIR" ""
}

# kill_node_dir DIR WHAT: SIGKILL the broker whose pid file is in DIR and wait
# until it is gone; WHAT ("" or "node N") prefixes the log lines.
kill_node_dir() {
    local dir="$1" what="${2:+$2 }" pid
    pid="$(node_pid "$dir")" || { log "${what}not running"; return 0; }
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$dir/kafka.pid"
    log "${what}killed (pid $pid)"
}

# resume: start the broker again on the data it has (after stop or kill).
cmd_resume() {
    local libs t0=$SECONDS
    [ -f "$NODE_DIR/server.properties" ] || die "no broker data in $NODE_DIR: use start"
    if node_pid "$NODE_DIR" >/dev/null; then log "already running"; return 0; fi
    JAVA="$(java_bin)"
    libs="$(ensure_jars "$(kafka_version)")"
    log "resuming Apache Kafka $(kafka_version) on $HOST:$PORT with the data in $NODE_DIR"
    start_node "$libs" "$NODE_DIR"
    if ! wait_node_ready "$libs" "$NODE_DIR" "$PORT" "$START_TIMEOUT"; then
        tail -n 40 "$NODE_DIR/logs/server.log" >&2 2>/dev/null || true
        stop_node "$NODE_DIR"
        exit 1
    fi
    log "ready (pid $(cat "$NODE_DIR/kafka.pid"), $((SECONDS - t0))s)"
}

# --- secure mode (SASL_SSL) --------------------------------------------------

SECURE_DIR="$BASE_DIR/secure"
SECURE_NODE_DIR="$SECURE_DIR/node-1"
CERTS_DIR="$SECURE_DIR/certs"
# Mechanism of the printed client settings and of the readiness check.
SECURE_MECHANISM=SCRAM-SHA-512

# check_secret NAME VALUE: the value can go into JAAS and --add-scram unescaped.
check_secret() {
    [[ "$2" =~ ^[A-Za-z0-9._~@%+-]+$ ]] \
        || die "$1 may only hold letters, digits and . _ ~ @ % + - (it is written into JAAS and SCRAM configs unescaped)"
}

# write_client_configs: Kafka-tools client properties, one per mechanism
# ($SECURE_DIR/client-<mechanism>.properties), and client.env with the
# settings of the tweetpipe services.
write_client_configs() {
    local mechanism module
    (
        umask 077
        for mechanism in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
            module=org.apache.kafka.common.security.scram.ScramLoginModule
            [[ "$mechanism" == PLAIN ]] && module=org.apache.kafka.common.security.plain.PlainLoginModule
            cat >"$SECURE_DIR/client-${mechanism,,}.properties" <<EOF
# Generated by scripts/kafka-local.sh: a SASL_SSL client of the secure broker.
security.protocol=SASL_SSL
sasl.mechanism=$mechanism
sasl.jaas.config=$module required username="$SASL_USERNAME" password="$SASL_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS_DIR/ca.pem
# client certificate, for KAFKA_LOCAL_TLS_CLIENT_AUTH=required
ssl.keystore.type=PKCS12
ssl.keystore.location=$CERTS_DIR/client.p12
ssl.keystore.password=$TLS_STORE_PASSWORD
EOF
        done
        secure_exports >"$SECURE_DIR/client.env"
    )
}

# secure_exports: the client settings of the tweetpipe services, as one line.
secure_exports() {
    printf 'export KAFKA_BROKERS=%q KAFKA_TLS=on KAFKA_TLS_CA_FILE=%q KAFKA_SASL_MECHANISM=%q KAFKA_SASL_USERNAME=%q KAFKA_SASL_PASSWORD=%q\n' \
        "$HOST:$SECURE_PORT" "$CERTS_DIR/ca.pem" "$SECURE_MECHANISM" "$SASL_USERNAME" "$SASL_PASSWORD"
}

cmd_start_secure() {
    local version pid libs cluster_id t0=$SECONDS scram
    version="$(kafka_version)"
    if pid="$(node_pid "$SECURE_NODE_DIR")"; then
        log "secure broker already running (pid $pid) on $HOST:$SECURE_PORT"
        secure_exports
        return 0
    fi
    port_open "$HOST" "$SECURE_PORT" && die "$HOST:$SECURE_PORT is already in use by another process"
    port_open "$HOST" "$SECURE_CONTROLLER_PORT" && die "$HOST:$SECURE_CONTROLLER_PORT is already in use by another process"
    check_secret KAFKA_LOCAL_SASL_USERNAME "$SASL_USERNAME"
    check_secret KAFKA_LOCAL_SASL_PASSWORD "$SASL_PASSWORD"
    check_secret KAFKA_LOCAL_SASL_ADMIN_PASSWORD "$SASL_ADMIN_PASSWORD"
    check_secret KAFKA_LOCAL_TLS_STORE_PASSWORD "$TLS_STORE_PASSWORD"
    [[ "$TLS_CLIENT_AUTH" =~ ^(none|requested|required)$ ]] \
        || die "KAFKA_LOCAL_TLS_CLIENT_AUTH must be none, requested or required"
    [[ "$SASL_USERNAME" != "$SASL_ADMIN_USERNAME" ]] || die "KAFKA_LOCAL_SASL_USERNAME must not be $SASL_ADMIN_USERNAME (the inter-broker user)"
    JAVA="$(java_bin)"
    libs="$(ensure_jars "$version")"

    # The CA and certificates outlive the broker (clients may keep the CA path).
    KAFKA_CERTS_STORE_PASSWORD="$TLS_STORE_PASSWORD" "$SCRIPT_DIR/kafka-certs.sh" "$CERTS_DIR"
    rm -rf "$SECURE_NODE_DIR"
    write_node_config 1 "$SECURE_PORT" "$SECURE_CONTROLLER_PORT" "$SECURE_NODE_DIR" "" sasl_ssl 1
    write_tools_log_config "$SECURE_NODE_DIR"
    write_client_configs
    cluster_id="$(new_cluster_id)"
    mapfile -t scram < <(scram_args)
    format_node "$libs" "$SECURE_NODE_DIR" "$cluster_id" standalone "${scram[@]}"

    log "starting Apache Kafka $version with SASL_SSL on $HOST:$SECURE_PORT (controller $HOST:$SECURE_CONTROLLER_PORT, dir $SECURE_NODE_DIR)"
    start_node "$libs" "$SECURE_NODE_DIR"
    # Ready once a SASL_SSL client (SCRAM-SHA-512, trusting ca.pem) gets answers.
    if ! wait_node_ready "$libs" "$SECURE_NODE_DIR" "$SECURE_PORT" "$START_TIMEOUT" \
            "$SECURE_DIR/client-${SECURE_MECHANISM,,}.properties"; then
        dump_node_logs "$SECURE_NODE_DIR"
        stop_node "$SECURE_NODE_DIR"
        exit 1
    fi
    log "secure broker ready (pid $(cat "$SECURE_NODE_DIR/kafka.pid"), $((SECONDS - t0))s); client configs in $SECURE_DIR"
    secure_exports
}

cmd_stop_secure() {
    local pid
    if pid="$(node_pid "$SECURE_NODE_DIR")"; then
        stop_node "$SECURE_NODE_DIR"
        log "secure broker stopped (pid $pid)"
    else
        rm -f "$SECURE_NODE_DIR/kafka.pid"
        log "secure broker stopped (was not running)"
    fi
}

cmd_status_secure() {
    local pid
    if pid="$(node_pid "$SECURE_NODE_DIR")"; then
        log "secure broker running (pid $pid) on $HOST:$SECURE_PORT (SASL_SSL), logs $SECURE_NODE_DIR/logs/server.log"
        return 0
    fi
    log "secure broker not running"
    return 1
}

# --- cluster mode (three nodes) -----------------------------------------------

CLUSTER_DIR="$BASE_DIR/cluster"

cluster_node_dir() { echo "$CLUSTER_DIR/node-$1"; }
cluster_port() { echo "${CLUSTER_PORTS[$(($1 - 1))]}"; }
cluster_controller_port() { echo "${CLUSTER_CONTROLLER_PORTS[$(($1 - 1))]}"; }

# cluster_voters: 1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093
cluster_voters() {
    local n voters=()
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do voters+=("$n@$HOST:$(cluster_controller_port "$n")"); done
    (IFS=,; echo "${voters[*]}")
}

# cluster_bootstrap: 127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092
cluster_bootstrap() {
    local n servers=()
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do servers+=("$HOST:$(cluster_port "$n")"); done
    (IFS=,; echo "${servers[*]}")
}

check_node_arg() {
    if ! [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || (($1 > CLUSTER_SIZE)); then
        die "node must be 1..$CLUSTER_SIZE, got '${1:-}'"
    fi
}

# cluster_tool CLASS ARGS...: runs a Kafka admin tool against the cluster.
cluster_tool() {
    timeout 30 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$CLUSTER_LIBS/*" \
        -Dlog4j2.configurationFile="$(cluster_node_dir 1)/log4j2-tools.xml" \
        "$1" --bootstrap-server "$(cluster_bootstrap)" "${@:2}"
}

# cluster_check: succeeds when every node is registered (unfenced) and
# answers, and the metadata quorum has a leader. Output in cluster/check.log.
cluster_check() {
    local n out="$CLUSTER_DIR/check.log"
    cluster_tool org.apache.kafka.tools.BrokerApiVersionsCommand >"$out" 2>&1 || return 1
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        grep -Eq "^$HOST:$(cluster_port "$n") \(id: $n rack: [^ ]+ isFenced: false\)" "$out" || return 1
    done
    cluster_tool org.apache.kafka.tools.MetadataQuorumCommand describe --status >"$out" 2>&1 || return 1
    grep -Eq '^LeaderId:[[:space:]]+[0-9]+$' "$out"
}

# cluster_lagging NODE: prints the partitions (with a leader) that have NODE
# as a replica but not in their ISR. Fails if the cluster cannot be asked.
cluster_lagging() {
    local node="$1" out
    out="$(cluster_tool org.apache.kafka.tools.TopicCommand --describe 2>/dev/null)" || return 1
    awk -F'\t' -v node="$node" '
        /Partition: / {
            topic = ""; part = ""; leader = ""; replicas = ""; isr = ""
            for (i = 1; i <= NF; i++) {
                split($i, kv, ": ")
                if (kv[1] == "Topic") topic = kv[2]
                else if (kv[1] == "Partition") part = kv[2]
                else if (kv[1] == "Leader") leader = kv[2]
                else if (kv[1] == "Replicas") replicas = "," kv[2] ","
                else if (kv[1] == "Isr") isr = "," kv[2] ","
            }
            if (leader != "none" && leader != "-1" && index(replicas, "," node ",") && !index(isr, "," node ","))
                print topic "-" part
        }' <<<"$out"
}

# wait_cluster_ready TIMEOUT_SECONDS: all nodes up, registered, quorum led.
wait_cluster_ready() {
    local deadline=$((SECONDS + $1)) n dir up
    while ((SECONDS < deadline)); do
        up=0
        for ((n = 1; n <= CLUSTER_SIZE; n++)); do
            dir="$(cluster_node_dir "$n")"
            node_pid "$dir" >/dev/null || { log "node $n exited during startup"; return 1; }
            grep -q 'Kafka Server started' "$dir/logs/server.log" 2>/dev/null \
                && port_open "$HOST" "$(cluster_port "$n")" && up=$((up + 1))
        done
        if ((up == CLUSTER_SIZE)) && cluster_check; then return 0; fi
        sleep 1
    done
    log "cluster not ready after $1s"
    return 1
}

# dump_node_logs NODE_DIR: the end of a node's logs, on stderr.
dump_node_logs() {
    echo "----- last 40 lines of $1/logs/server.log -----" >&2
    tail -n 40 "$1/logs/server.log" >&2 2>/dev/null || true
    echo "----- $1/logs/stdout.log -----" >&2
    tail -n 20 "$1/logs/stdout.log" >&2 2>/dev/null || true
}

# stop_cluster_nodes: SIGTERM every running node at once (one by one, the
# last ones would wait for a controller quorum that is already gone).
stop_cluster_nodes() {
    local n jobs=()
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        stop_node "$(cluster_node_dir "$n")" &
        jobs+=($!)
    done
    for n in "${jobs[@]}"; do wait "$n" || true; done
}

cluster_pids() {
    local n pid pids=()
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        pid="$(node_pid "$(cluster_node_dir "$n")")" && pids+=("$pid")
    done
    echo "${pids[*]}"
}

cmd_start_cluster() {
    local version libs cluster_id n dir t0=$SECONDS running voters jobs=() failed=
    version="$(kafka_version)"
    running="$(cluster_pids)"
    if [[ -n "$running" ]]; then
        read -r -a jobs <<<"$running"
        ((${#jobs[@]} == CLUSTER_SIZE)) \
            || die "cluster partly running (pids $running): use resume-node N or stop-cluster"
        log "cluster already running (pids $running) on $(cluster_bootstrap)"
        echo "export KAFKA_BROKERS=$(cluster_bootstrap)"
        return 0
    fi
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        port_open "$HOST" "$(cluster_port "$n")" && die "$HOST:$(cluster_port "$n") is already in use by another process"
        port_open "$HOST" "$(cluster_controller_port "$n")" && die "$HOST:$(cluster_controller_port "$n") is already in use by another process"
    done
    JAVA="$(java_bin)"
    libs="$(ensure_jars "$version")"
    CLUSTER_LIBS="$libs"

    rm -rf "$CLUSTER_DIR"
    voters="$(cluster_voters)"
    cluster_id="$(new_cluster_id)"
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        dir="$(cluster_node_dir "$n")"
        write_node_config "$n" "$(cluster_port "$n")" "$(cluster_controller_port "$n")" "$dir" "$voters" plaintext 3
        write_tools_log_config "$dir"
        # Same cluster id everywhere, static voters: no --standalone.
        format_node "$libs" "$dir" "$cluster_id" static &
        jobs+=($!)
    done
    for n in "${jobs[@]}"; do wait "$n" || failed=yes; done
    [[ -z "$failed" ]] || die "formatting the cluster nodes failed"

    log "starting Apache Kafka $version cluster of $CLUSTER_SIZE nodes on $(cluster_bootstrap) (controllers $voters, dir $CLUSTER_DIR)"
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        start_node "$libs" "$(cluster_node_dir "$n")" "$CLUSTER_HEAP"
    done
    if ! wait_cluster_ready "$START_TIMEOUT"; then
        for ((n = 1; n <= CLUSTER_SIZE; n++)); do dump_node_logs "$(cluster_node_dir "$n")"; done
        stop_cluster_nodes
        exit 1
    fi
    log "cluster ready (pids $(cluster_pids), $((SECONDS - t0))s)"
    echo "export KAFKA_BROKERS=$(cluster_bootstrap)"
}

cmd_stop_cluster() {
    local pids
    pids="$(cluster_pids)"
    if [[ -n "$pids" ]]; then
        stop_cluster_nodes
        log "cluster stopped (pids $pids)"
    else
        log "cluster stopped (was not running)"
    fi
}

cmd_status_cluster() {
    local n pid dir all=0
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do
        dir="$(cluster_node_dir "$n")"
        if pid="$(node_pid "$dir")"; then
            log "node $n running (pid $pid) on $HOST:$(cluster_port "$n"), logs $dir/logs/server.log"
        else
            log "node $n not running"
            all=1
        fi
    done
    return "$all"
}

# kill-node N: SIGKILL node N, as a crash would; its data stays.
cmd_kill_node() {
    local n="$1"
    check_node_arg "$n"
    kill_node_dir "$(cluster_node_dir "$n")" "node $n"
}

# resume-node N: start node N again on its data; ready once it answers, is
# registered again and is back in the ISR of every partition it replicates
# (that has a leader).
cmd_resume_node() {
    local n="$1" dir libs from lagging deadline t0=$SECONDS
    check_node_arg "$n"
    dir="$(cluster_node_dir "$n")"
    [[ -f "$dir/server.properties" ]] || die "no data for node $n in $dir: use start-cluster"
    if node_pid "$dir" >/dev/null; then log "node $n already running"; return 0; fi
    port_open "$HOST" "$(cluster_port "$n")" && die "$HOST:$(cluster_port "$n") is already in use by another process"
    JAVA="$(java_bin)"
    libs="$(ensure_jars "$(kafka_version)")"
    CLUSTER_LIBS="$libs"
    from=$(($(wc -l <"$dir/logs/server.log" 2>/dev/null || echo 0) + 1))
    log "resuming node $n on $HOST:$(cluster_port "$n") with the data in $dir"
    start_node "$libs" "$dir" "$CLUSTER_HEAP"
    if ! wait_node_ready "$libs" "$dir" "$(cluster_port "$n")" "$START_TIMEOUT" "" "$from"; then
        dump_node_logs "$dir"
        stop_node "$dir"
        exit 1
    fi
    deadline=$((t0 + START_TIMEOUT))
    while :; do
        if lagging="$(cluster_lagging "$n")" && [[ -z "$lagging" ]]; then break; fi
        if ((SECONDS >= deadline)); then
            log "node $n is up (pid $(cat "$dir/kafka.pid")) but not back in the ISR of: ${lagging:-(could not describe topics)}"
            exit 1
        fi
        sleep 1
    done
    log "node $n ready (pid $(cat "$dir/kafka.pid"), $((SECONDS - t0))s)"
}

# leader TOPIC PARTITION: prints the id of the node leading that partition
# in the cluster; fails (nothing on stdout) if it has no leader.
cmd_leader() {
    local topic="${1:-}" partition="${2:-}" out leader
    [[ -n "$topic" && "$partition" =~ ^[0-9]+$ ]] || die "usage: leader TOPIC PARTITION"
    [[ -n "$(cluster_pids)" ]] || die "the cluster is not running"
    JAVA="$(java_bin)"
    CLUSTER_LIBS="$(ensure_jars "$(kafka_version)")"
    out="$(cluster_tool org.apache.kafka.tools.TopicCommand --describe --topic "$topic" 2>&1)" \
        || die "describing topic $topic failed: $(grep -m1 . <<<"$out")"
    leader="$(awk -F'\t' -v p="$partition" '
        /Partition: / {
            part = ""; leader = ""
            for (i = 1; i <= NF; i++) {
                split($i, kv, ": ")
                if (kv[1] == "Partition") part = kv[2]
                else if (kv[1] == "Leader") leader = kv[2]
            }
            if (part == p) { print leader; exit }
        }' <<<"$out")"
    [[ -n "$leader" ]] || die "topic $topic has no partition $partition"
    [[ "$leader" =~ ^[0-9]+$ ]] || die "partition $topic-$partition has no leader ($leader)"
    echo "$leader"
}

# new_cluster_id: a random KRaft cluster id (a UUID in URL-safe base64, as
# `kafka-storage random-uuid` prints; never starting with "-").
new_cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        [[ "$id" != -* ]] && break
    done
    echo "$id"
}

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status|kill|resume
       $0 start-secure|stop-secure|status-secure
       $0 start-cluster|stop-cluster|status-cluster|kill-node N|resume-node N
       $0 leader TOPIC PARTITION
       $0 jars
EOF
    exit 2
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill) cmd_kill ;;
    resume) cmd_resume ;;
    start-secure) cmd_start_secure ;;
    stop-secure) cmd_stop_secure ;;
    status-secure) cmd_status_secure ;;
    start-cluster) cmd_start_cluster ;;
    stop-cluster) cmd_stop_cluster ;;
    status-cluster) cmd_status_cluster ;;
    kill-node) cmd_kill_node "${2:-}" ;;
    resume-node) cmd_resume_node "${2:-}" ;;
    leader) cmd_leader "${2:-}" "${3:-}" ;;
    jars) ensure_jars "$(kafka_version)" ;;
    *) usage ;;
esac
