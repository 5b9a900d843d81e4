#!/usr/bin/env bash
# bench.sh: tweetpipe against kcat on this machine (what `make bench` runs).
#
# Builds the producer and consumer without -race, starts franz-go's kfake
# broker as its own process, and on the same generated statuses, with zstd and
# acks=all on both sides, measures:
#   1. producer throughput: SOURCE=replay REPLAY_SPEED=0 vs kcat -P -l
#   2. consumer throughput: archiving the backlog (fsync and checkpoint per
#      batch) vs kcat -C -e > file
#   3. end-to-end latency (post read -> line in file), p50/p99, at 50 posts/s
#      and at full speed, for both pipelines
#   4. peak RSS of each service on a large backlog (BENCH_BACKLOG)
#   5. the size axis: throughput by post size (Jetstream commits, which the
#      producer reads through its Jetstream source from a local websocket
#      endpoint; v1.1 statuses of the 1 KB and of the 5 KB class, generated
#      from the same templates), each program beside kcat and beside Kafka's
#      own tools:
#      the console producer (org.apache.kafka.tools.ConsoleProducer, zstd,
#      acks=all) and Kafka Connect's FileStreamSinkConnector in a
#      standalone worker; and the consumer's floor, kafka-go's Reader alone
#      (bench read: the consumer's reader settings, no checks, no fsync),
#      in every throughput run; CPU time and allocations per message for
#      each, and a chart of messages per second by post size (BENCH_CHART)
#   6. uploads to object storage: objstore.BenchmarkUpload (MB/s and ms per
#      file, by file size) on scripts/s3-local.sh's versitygw, which this
#      script starts and stops (if it cannot be built or started, the table
#      says so and the bench goes on)
#   7. from an hour's last file closed to its manifest (bench manifest, on
#      kfake), at the default MANIFEST_INTERVAL and at a short one; and the
#      same with the consumer archiving to a bucket (OUTPUT_URL=s3://...) on
#      scripts/s3-local.sh's versitygw, from the hour's last file uploaded to
#      the manifest object in the bucket, and from the hour closed in the
#      bucket (every partition's first upload of a later hour) to it
# then the same against a real Kafka when KAFKA_BROKERS is set, CPU profiles of
# both binaries under perf, and the Go micro-benchmarks (allocations per op,
# with -cpuprofile). It ends with a markdown table ready for docs/performance.md.
#
#   scripts/bench.sh                                # kfake only
#   KAFKA_BROKERS=127.0.0.1:9092 scripts/bench.sh   # and a real Kafka
#   BENCH_QUICK=1 scripts/bench.sh                  # a smoke run, a few minutes
#
# Environment:
#   BENCH_QUICK        1: a smoke run at small counts (BENCH_N=20000, BENCH_SIZE_N=10000,
#                      BENCH_REPEAT=1, BENCH_SIZE_REPEAT=1, short latency runs, no backlog, profiles or
#                      micro-benchmarks, BENCH_OBJSTORE_COUNT=3, BENCH_MANIFEST_N=6000,
#                      BENCH_MANIFEST_RUNS=1; the chart goes to BENCH_DIR); a setting
#                      given explicitly still wins
#   BENCH_N            statuses in the throughput runs (default 200000)
#   BENCH_BACKLOG      statuses in the peak-RSS backlog (default 1000000; 0 skips it)
#   BENCH_RSS_ON       kfake or kafka: the broker of the backlog run
#                      (default: kafka when KAFKA_BROKERS is set, else kfake)
#   BENCH_RSS_KCAT     1: also run kcat on the backlog, for its RSS (default 1)
#   BENCH_RSS_PARTITIONS  partitions of a second peak-RSS backlog, of the 5 KB class, for
#                      memory that does not grow with the partition count (default 12;
#                      0 skips it; default 0 with BENCH_QUICK=1); BENCH_RSS_PARTITIONS_N its
#                      statuses (default 200000)
#   BENCH_REPEAT       throughput runs of each program, the fastest kept (default 2);
#                      the first round runs tweetpipe first, the second kcat, and so on
#   BENCH_LAT_SECONDS  length of the 50 posts/s latency runs (default 30)
#   BENCH_LAT_FULL     statuses in the full-speed latency runs (default 20000)
#   BENCH_PROFILE      1: perf profiles of the binaries, on the BENCH_RSS_ON broker (default 1)
#   BENCH_MICRO        1: go test -bench -benchmem -cpuprofile in producer and consumer (default 1)
#   BENCH_OBJSTORE     1: objstore.BenchmarkUpload on versitygw, in the table (default 1)
#   BENCH_OBJSTORE_COUNT  its runs (go test -count; default 5), the median kept
#   S3_LOCAL_PORT, S3_LOCAL_DIR  where scripts/s3-local.sh runs that versitygw, and
#                      bench manifest's (default 9000 and $BENCH_DIR/s3-local; the port must be free)
#   BENCH_MANIFEST     1: bench manifest, close to manifest, in the table (default 1)
#   BENCH_MANIFEST_INTERVALS  the MANIFEST_INTERVALs it runs at, space separated
#                      (default "10s 200ms": the consumer's default and a short one)
#   BENCH_MANIFEST_N, BENCH_MANIFEST_RUNS  statuses (over 6 past hours) and runs at
#                      each interval (default 60000 and 3); the table counts every hour of every run
#   BENCH_MANIFEST_BUCKET  1: bench manifest also archives to a bucket on a versitygw of
#                      scripts/s3-local.sh (S3_LOCAL_PORT, S3_LOCAL_DIR; started for it and
#                      stopped after), at each interval, beside the folder (default 1; if
#                      versitygw cannot be built or started, the bucket's rows are left out)
#   BENCH_DIR          scratch and results folder (default /tmp/tweetpipe-bench);
#                      the generated files are removed at the end unless BENCH_KEEP=1
#   BENCH_DISK_CHECK   0: start even when BENCH_DIR's disk has less room than the run
#                      needs by its estimate (default 1: stop at once, saying how much)
#   BENCH_TEMPLATES    real v1.1 statuses to draw sizes and shapes from
#                      (default <repo>/../shared/fixtures/tweets/python-twitter/lines.json
#                      where it exists, else the project's <repo>/testdata/tweets/v1.1/sample.jsonl)
#   BENCH_JETSTREAM_TEMPLATES  Jetstream events to draw the jetstream class from
#                      (default <repo>/testdata/tweets/jetstream/events.jsonl)
#   BENCH_SIZES        size classes of the size axis, space separated (default
#                      "jetstream v1.1-1k v1.1-5k"; empty: no size axis)
#   BENCH_SIZE_N       messages of each size class (default 200000: runs of one to a few
#                      seconds on a slow 2-core machine; the goal also needs the steady ratio,
#                      so start-up alone cannot meet it); where they last under a second,
#                      1000000 gives the steady state a window long enough to sample
#   BENCH_SIZE_REPEAT  runs of each program on each size class, the fastest kept (default 2)
#   BENCH_PEERS        1: Kafka's console producer and Connect's file sink on the size
#                      axis (default 1; needs java 17+ and, once, mvn to fetch the jars
#                      of the Kafka version docker-compose.kafka.yml names)
#   BENCH_CHART        the chart (SVG) of the size axis (default <repo>/docs/bench.svg;
#                      with BENCH_QUICK=1, $BENCH_DIR/bench.svg)
#   TWEETPIPE_CACHE    jar cache root, as scripts/kafka-local.sh (default $HOME/.cache/tweetpipe)
#   KAFKA_BROKERS      also measure against this Kafka (topics bench-* are
#                      created and deleted); BENCH_KAFKA_DESC describes it
#   BENCH_ZSTD_LEVEL   zstd level of both the producer (KAFKA_COMPRESSION_LEVEL) and
#                      kcat (compression.level); default 0: each one's default, level 3
#   BENCH_PRODUCER_ENV, BENCH_CONSUMER_ENV
#                      extra KEY=VALUE settings for the services, space separated,
#                      to try a change (e.g. "GOMEMLIMIT=64MiB PENDING_MAX=2000");
#                      the table says they are not the defaults
#   KCAT, PERF         the kcat and perf binaries (default: from PATH)
#
# Results: $BENCH_DIR/results.md (the table), results-*.json, logs in
# $BENCH_DIR/work-*, profiles in $BENCH_DIR/profiles.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

QUICK="${BENCH_QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    N="${BENCH_N:-20000}" BACKLOG="${BENCH_BACKLOG:-0}" REPEAT="${BENCH_REPEAT:-1}"
    RSS_PARTITIONS="${BENCH_RSS_PARTITIONS:-0}"
    LAT_SECONDS="${BENCH_LAT_SECONDS:-5}" LAT_FULL="${BENCH_LAT_FULL:-5000}"
    PROFILE="${BENCH_PROFILE:-0}" MICRO="${BENCH_MICRO:-0}" SIZE_N="${BENCH_SIZE_N:-10000}"
    SIZE_REPEAT="${BENCH_SIZE_REPEAT:-1}" OBJSTORE_COUNT="${BENCH_OBJSTORE_COUNT:-3}"
    MANIFEST_N="${BENCH_MANIFEST_N:-6000}" MANIFEST_RUNS="${BENCH_MANIFEST_RUNS:-1}"
else
    N="${BENCH_N:-200000}" BACKLOG="${BENCH_BACKLOG:-1000000}" REPEAT="${BENCH_REPEAT:-2}"
    RSS_PARTITIONS="${BENCH_RSS_PARTITIONS:-12}"
    LAT_SECONDS="${BENCH_LAT_SECONDS:-30}" LAT_FULL="${BENCH_LAT_FULL:-20000}"
    PROFILE="${BENCH_PROFILE:-1}" MICRO="${BENCH_MICRO:-1}" SIZE_N="${BENCH_SIZE_N:-200000}"
    SIZE_REPEAT="${BENCH_SIZE_REPEAT:-2}" OBJSTORE_COUNT="${BENCH_OBJSTORE_COUNT:-5}"
    MANIFEST_N="${BENCH_MANIFEST_N:-60000}" MANIFEST_RUNS="${BENCH_MANIFEST_RUNS:-3}"
fi
RSS_PARTITIONS_N="${BENCH_RSS_PARTITIONS_N:-200000}"
OBJSTORE="${BENCH_OBJSTORE:-1}"
MANIFEST="${BENCH_MANIFEST:-1}"
MANIFEST_INTERVALS="${BENCH_MANIFEST_INTERVALS-10s 200ms}"
MANIFEST_BUCKET="${BENCH_MANIFEST_BUCKET:-1}"
RSS_KCAT="${BENCH_RSS_KCAT:-1}"
DIR="${BENCH_DIR:-/tmp/tweetpipe-bench}"
SIZES="${BENCH_SIZES-jetstream v1.1-1k v1.1-5k}"
PEERS="${BENCH_PEERS:-1}"
# The upload benchmark's server, by scripts/s3-local.sh's own settings.
export S3_LOCAL_DIR="${S3_LOCAL_DIR:-$DIR/s3-local}"
if [[ "$QUICK" == 1 ]]; then CHART="${BENCH_CHART:-$DIR/bench.svg}"; else CHART="${BENCH_CHART:-$REPO_ROOT/docs/bench.svg}"; fi
CACHE_ROOT="${TWEETPIPE_CACHE:-$HOME/.cache/tweetpipe}"
SHARED_TEMPLATES="$REPO_ROOT/../shared/fixtures/tweets/python-twitter/lines.json"
if [[ -n "${BENCH_TEMPLATES:-}" ]]; then
    TEMPLATES="$BENCH_TEMPLATES"
elif [[ -f "$SHARED_TEMPLATES" ]]; then
    TEMPLATES="$SHARED_TEMPLATES"
else
    TEMPLATES="$REPO_ROOT/testdata/tweets/v1.1/sample.jsonl"
fi
JETSTREAM_TEMPLATES="${BENCH_JETSTREAM_TEMPLATES:-$REPO_ROOT/testdata/tweets/jetstream/events.jsonl}"
KCAT="${KCAT:-kcat}"
PERF="${PERF:-perf}"
if [[ -n "${KAFKA_BROKERS:-}" ]]; then RSS_ON="${BENCH_RSS_ON:-kafka}"; else RSS_ON="${BENCH_RSS_ON:-kfake}"; fi

log() { echo "bench.sh: $*" >&2; }
die() { echo "bench.sh: error: $*" >&2; exit 1; }

command -v go >/dev/null || die "go not found"
command -v "$KCAT" >/dev/null || die "kcat not found (apt-get install kcat), or set KCAT"
[[ -f "$TEMPLATES" ]] || die "no templates at $TEMPLATES (BENCH_TEMPLATES): a JSON Lines file of v1.1 statuses"
[[ "$TEMPLATES" == "$SHARED_TEMPLATES" ]] \
    || log "drawing statuses from $TEMPLATES (the shared real captures are not beside the repository: sizes, and so figures, differ from those in docs/performance.md)"
[[ -f "$JETSTREAM_TEMPLATES" ]] || die "no Jetstream templates at $JETSTREAM_TEMPLATES (BENCH_JETSTREAM_TEMPLATES)"
[[ "$RSS_ON" == kfake || "$RSS_ON" == kafka ]] || die "BENCH_RSS_ON=$RSS_ON: accepts kfake or kafka"
[[ "$RSS_ON" == kfake || -n "${KAFKA_BROKERS:-}" ]] || die "BENCH_RSS_ON=kafka needs KAFKA_BROKERS"

# --- room on the disk -------------------------------------------------------------
# A broker whose disk fills stops taking records, and the run then waits
# without an error: so the run first checks that BENCH_DIR's file system
# has room for it. The most it holds at once: the first stage's statuses
# (kept, with their keyed copy, until the backlog) beside a size class's
# (the same two files) and one program's output of that class; or the
# backlog and its output; or the many-partition backlog and its output
# (beside the first stage's statuses when there is no backlog run). A
# status's bytes: the templates' mean for the
# first stage and the backlog, the class's mean for a size class (bench
# gen's means with the shared templates, rounded up). An Apache Kafka
# (KAFKA_BROKERS) writing its log on the same disk needs room besides.
# BENCH_DISK_CHECK=0 skips the check.
class_mean() {
    case "$1" in
    jetstream) echo 460 ;;
    v1.1-1k) echo 1500 ;;
    *) echo 5000 ;;
    esac
}
# The counts, whole numbers of at most 12 digits (bash's arithmetic would
# wrap past that, or fail on 1e6 or 08 without saying which setting).
for setting in "BENCH_N=$N" "BENCH_SIZE_N=$SIZE_N" "BENCH_BACKLOG=$BACKLOG" "BENCH_RSS_PARTITIONS=$RSS_PARTITIONS" \
    "BENCH_RSS_PARTITIONS_N=$RSS_PARTITIONS_N"; do
    [[ "${setting#*=}" =~ ^(0|[1-9][0-9]{0,11})$ ]] \
        || die "$setting: accepts a whole number (digits only, no leading zero, at most 12)"
done
disk_needed() { # prints the bytes the run needs at its fullest
    local lines bytes mean need class n
    lines="$(grep -c '' "$TEMPLATES" || true)"
    bytes="$(wc -c <"$TEMPLATES")"
    mean=$((bytes / (lines > 0 ? lines : 1) + 1))
    need=$((N * mean * 3))
    for class in $SIZES; do
        n=$((N * mean * 2 + SIZE_N * $(class_mean "$class") * 3))
        ((n > need)) && need=$n
    done
    n=$((BACKLOG * mean * 2))
    ((n > need)) && need=$n
    if ((RSS_PARTITIONS > 0)); then
        n=$((RSS_PARTITIONS_N * $(class_mean v1.1-5k) * 2))
        # Without a backlog run the first stage's statuses are still there.
        ((BACKLOG > 0)) || n=$((n + N * mean * 2))
        ((n > need)) && need=$n
    fi
    echo $((need + need / 10 + (1 << 30))) # and a tenth and a GiB to spare
}
if [[ "${BENCH_DISK_CHECK:-1}" != 0 ]]; then
    disk_dir="$DIR"
    while [[ ! -d "$disk_dir" ]]; do disk_dir="$(dirname "$disk_dir")"; done
    disk_avail="$(df -Pk "$disk_dir" 2>/dev/null | awk 'NR == 2 { print $4 }')" || disk_avail=""
    disk_need="$(disk_needed)"
    gb() { awk -v b="$1" 'BEGIN { printf "%.1f GB", b / 1e9 }'; }
    if [[ ! "$disk_avail" =~ ^[0-9]+$ ]]; then
        log "cannot tell the room on the disk of $DIR (df gave \"$disk_avail\"): not checked; the run needs about $(gb "$disk_need") there"
    else
        disk_free=$((disk_avail * 1024))
        log "room on the disk of $DIR: $(gb "$disk_free") free, about $(gb "$disk_need") needed${KAFKA_BROKERS:+" (and the room the Kafka at KAFKA_BROKERS needs for its log, on its own disk or this one)"}"
        if ((disk_free < disk_need)); then
            die "BENCH_DIR ($DIR) has $(gb "$disk_free") free on its disk, and this run needs about $(gb "$disk_need") there" \
                "(BENCH_N=$N, BENCH_SIZE_N=$SIZE_N of each of \"$SIZES\", BENCH_BACKLOG=$BACKLOG): free some room," \
                "lower BENCH_SIZE_N or BENCH_N, or set BENCH_DIR on a larger disk (BENCH_DISK_CHECK=0 skips this check)"
        fi
    fi
fi

BIN="$DIR/bin"
mkdir -p "$BIN" "$DIR/profiles"
rm -rf "$DIR"/results*.json "$DIR/results.md" "$DIR"/work-* "$DIR"/profiles/* "$DIR"/upload.*

broker_pid=
s3_running=
s3_exports=
s3_failed=
# s3_start: starts scripts/s3-local.sh's versitygw, its data empty, and keeps
# the consumer's settings it prints (export lines) in s3_exports; its output
# goes to upload.log. On failure s3_failed says why and it returns 1.
s3_start() {
    s3_failed=
    if ! "$SCRIPT_DIR/s3-local.sh" bin >>"$DIR/upload.log" 2>&1; then
        s3_failed="versitygw could not be built: see $DIR/upload.log"
        return 1
    fi
    s3_running=1 # stopped by s3_stop, or by cleanup on an interrupt
    if ! s3_exports="$("$SCRIPT_DIR/s3-local.sh" start 2>>"$DIR/upload.log")"; then
        s3_failed="versitygw did not start: $(tail -n 1 "$DIR/upload.log")"
        return 1
    fi
}
s3_stop() {
    if [[ -n "$s3_running" ]]; then
        "$SCRIPT_DIR/s3-local.sh" stop >>"$DIR/upload.log" 2>&1 || true
        [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -rf "$S3_LOCAL_DIR/data" # the uploaded files
    fi
    s3_running=
    s3_exports=
}
cleanup() {
    s3_stop
    if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    broker_pid=
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -f "$DIR"/*.jsonl "$DIR"/*.tsv "$DIR"/profiles/*.perf.data
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$SECONDS
load_start="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
# A VM whose kernel reports freed memory to its host (free page reporting,
# virtio-balloon) takes a host fault for each such page it uses again: page
# cache written into it cost the writing program fifteen to thirty times a
# write's usual kernel CPU on the machine of docs/performance.md, and the
# consumer, its floor and kcat -C each write the whole topic. Some kernels
# count the memory reported (reported_kib; mainline has no such counter, so
# its absence does not mean reporting is off): then the run says how much.
reported_kib=/sys/module/page_reporting/parameters/reported_kib
reported_start="$(cat "$reported_kib" 2>/dev/null || true)"
if [[ -n "$reported_start" ]]; then
    log "note: free page reporting is on ($reported_kib): the consumer, its floor and kcat -C may run up to 2x slower" \
        "with more system CPU; see the \"of which system\" column of the cost table and docs/development.md (Benchmarks)"
fi
revision="$(git -C "$REPO_ROOT" describe --tags --always --dirty 2>/dev/null || echo unknown)"

# --- build ------------------------------------------------------------------
# No -race, no -s -w: perf needs the symbol table.
log "building producer, consumer, the kfake broker and the bench tool into $BIN"
# The producer as the Makefile and the image build it: libzstd (cgo) where Go
# finds a C compiler.
(cd "$REPO_ROOT/producer" && go build -trimpath -tags libzstd -o "$BIN/producer" .)
(cd "$REPO_ROOT/consumer" && go build -trimpath -o "$BIN/consumer" .)
(cd "$REPO_ROOT/e2e" && go build -trimpath -o "$BIN/broker" ./bench/cmd/broker && go build -trimpath -o "$BIN/bench" ./bench/cmd/bench)

# --- Kafka's own tools (the size axis's peers) ---------------------------------
kafka_version="$(sed -nE 's/^[[:space:]]*image:[[:space:]]*["'\'']?apache\/kafka:([0-9][0-9A-Za-z.-]*).*$/\1/p' "$REPO_ROOT/docker-compose.kafka.yml" | sed -n 1p)"
# peers_pom VERSION: a throwaway pom whose runtime dependencies are the console
# producer (kafka-tools), a standalone Connect worker and its file connector.
peers_pom() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/bench.sh: only used to resolve jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tweetpipe.local</groupId>
  <artifactId>bench-peers</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
}
# peers_libs: prints the folder of the peers' jars, fetched with Maven once.
peers_libs() {
    local dir="$CACHE_ROOT/kafka-$kafka_version-bench-peers" pom
    pom="$(peers_pom "$kafka_version")"
    if [[ -f "$dir/.complete" && "$(cat "$dir/pom.xml" 2>/dev/null)" == "$pom" ]]; then
        echo "$dir/libs"
        return
    fi
    command -v mvn >/dev/null || die "mvn not found: it fetches Kafka $kafka_version's tools and Connect once (or BENCH_PEERS=0)"
    log "fetching Kafka $kafka_version's tools and Connect with Maven into $dir (first run only)"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '%s\n' "$pom" >"$dir/pom.xml"
    if ! mvn -q -B -f "$dir/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$dir/libs" >"$dir/mvn.log" 2>&1; then
        cat "$dir/mvn.log" >&2
        rm -rf "$dir"
        die "could not resolve Kafka $kafka_version's tools and Connect with Maven (or BENCH_PEERS=0)"
    fi
    rm -rf "$dir/target"
    touch "$dir/.complete"
    echo "$dir/libs"
}
peer_args=()
if [[ -n "$SIZES" && "$PEERS" == 1 ]]; then
    command -v java >/dev/null || die "java not found: Kafka's console producer and Connect need Java 17+ (or BENCH_PEERS=0)"
    libs="$(peers_libs)"
    peer_args=(-kafka-libs "$libs" -java "$(command -v java)")
fi

# --- data -------------------------------------------------------------------
"$BIN/bench" gen -templates "$TEMPLATES" -n "$N" -out "$DIR/statuses.jsonl" -keyed "$DIR/statuses.tsv"

# --- kfake --------------------------------------------------------------------
rm -f "$DIR/broker.addr"
"$BIN/broker" -addr-file "$DIR/broker.addr" >"$DIR/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do [[ -s "$DIR/broker.addr" ]] && break; sleep 0.1; done
[[ -s "$DIR/broker.addr" ]] || die "the kfake broker did not start: $(cat "$DIR/broker.log")"
KFAKE="$(cat "$DIR/broker.addr")"
log "kfake broker on $KFAKE (pid $broker_pid)"

svc_env=(-producer-env "${BENCH_PRODUCER_ENV:-}" -consumer-env "${BENCH_CONSUMER_ENV:-}" -zstd-level "${BENCH_ZSTD_LEVEL:-0}")
run() { # run LABEL BROKERS
    "$BIN/bench" run -label "$1" -brokers "$2" -bin "$BIN" -kcat "$KCAT" -work "$DIR/work-$1" "${svc_env[@]}" \
        -data "$DIR/statuses.jsonl" -keyed "$DIR/statuses.tsv" -templates "$TEMPLATES" \
        -lat-seconds "$LAT_SECONDS" -lat-full "$LAT_FULL" -repeat "$REPEAT" -out "$DIR/results-$1.json"
}
run kfake "$KFAKE"
if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    run kafka "$KAFKA_BROKERS"
fi

# --- the size axis ----------------------------------------------------------------
# One class at a time, on every broker, its data removed after.
for class in $SIZES; do
    tpl="$TEMPLATES"
    [[ "$class" == jetstream ]] && tpl="$JETSTREAM_TEMPLATES"
    "$BIN/bench" gen -class "$class" -templates "$tpl" -n "$SIZE_N" -seed 3 -out "$DIR/size.jsonl" -keyed "$DIR/size.tsv"
    for target in kfake kafka; do
        brokers="$KFAKE"
        if [[ "$target" == kafka ]]; then
            [[ -n "${KAFKA_BROKERS:-}" ]] || continue
            brokers="$KAFKA_BROKERS"
        fi
        "$BIN/bench" run -label "$target" -brokers "$brokers" -bin "$BIN" -kcat "$KCAT" -work "$DIR/work-$target-$class" \
            "${svc_env[@]}" "${peer_args[@]}" -latency=false -repeat "$SIZE_REPEAT" \
            -data "$DIR/size.jsonl" -keyed "$DIR/size.tsv" -out "$DIR/results-size-$target-$class.json"
    done
    rm -f "$DIR/size.jsonl" "$DIR/size.tsv" "$DIR/size.jsonl.stats.json"
done

# The backlog and profile runs use one broker: the real one when there is one.
rss_brokers="$KFAKE"
[[ "$RSS_ON" == kafka ]] && rss_brokers="$KAFKA_BROKERS"

# --- CPU profiles of the binaries (perf) ---------------------------------------
perf_top() { # perf_top FILE: flat (self) and cumulative (children) top symbols
    echo "self (flat):"
    "$PERF" report -i "$1" --stdio --no-children --sort symbol -g none --percent-limit 0.7 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | sed -n '1,30p'
    echo "cumulative (children):"
    "$PERF" report -i "$1" --stdio --children --sort symbol -g none --percent-limit 4 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | sed -n '1,45p'
}
if [[ "$PROFILE" == 1 ]]; then
    if ! command -v "$PERF" >/dev/null || ! "$PERF" record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
        log "perf is missing or not allowed here (perf_event_paranoid): skipping the binaries' profiles"
    else
        "$BIN/bench" profile -label "$RSS_ON" -brokers "$rss_brokers" -bin "$BIN" -perf "$PERF" -work "$DIR/profiles" \
            "${svc_env[@]}" -data "$DIR/statuses.jsonl"
        for svc in producer consumer; do
            perf_top "$DIR/profiles/$RSS_ON-$svc.perf.data" >"$DIR/profiles/$svc-perf.txt"
        done
    fi
fi

# --- peak RSS on a large backlog ----------------------------------------------
if [[ "$BACKLOG" -gt 0 ]]; then
    rm -f "$DIR/statuses.jsonl" "$DIR/statuses.tsv" # room on the disk
    "$BIN/bench" gen -templates "$TEMPLATES" -n "$BACKLOG" -seed 2 -out "$DIR/backlog.jsonl"
    with_kcat=true
    [[ "$RSS_KCAT" == 1 ]] || with_kcat=false
    "$BIN/bench" rss -label "$RSS_ON" -brokers "$rss_brokers" -bin "$BIN" -kcat "$KCAT" -work "$DIR/work-rss" "${svc_env[@]}" \
        -data "$DIR/backlog.jsonl" -with-kcat="$with_kcat" -out "$DIR/results-rss.json"
    rm -f "$DIR/backlog.jsonl"
fi

# --- peak RSS at many partitions ------------------------------------------------------
# The goal holds whatever the partition count: 5 KB statuses, the largest
# class, on as many partitions (the services alone).
if [[ "$RSS_PARTITIONS" -gt 0 ]]; then
    "$BIN/bench" gen -class v1.1-5k -templates "$TEMPLATES" -n "$RSS_PARTITIONS_N" -seed 4 -out "$DIR/backlog-wide.jsonl"
    "$BIN/bench" rss -label "$RSS_ON" -brokers "$rss_brokers" -bin "$BIN" -kcat "$KCAT" -work "$DIR/work-rss-wide" "${svc_env[@]}" \
        -data "$DIR/backlog-wide.jsonl" -partitions "$RSS_PARTITIONS" -with-kcat=false -out "$DIR/results-rss-wide.json"
    rm -f "$DIR/backlog-wide.jsonl"
fi

# --- from an hour's last file closed to its manifest ------------------------------
# In a folder, and (BENCH_MANIFEST_BUCKET) in a bucket on a versitygw of its
# own, started here and stopped after: the upload benchmark below starts
# its own, empty.
if [[ "$MANIFEST" == 1 ]]; then
    mkdir -p "$DIR/work-manifest"
    bucket=
    if [[ "$MANIFEST_BUCKET" == 1 ]]; then
        log "versitygw for bench manifest in a bucket (127.0.0.1:${S3_LOCAL_PORT:-9000}, $S3_LOCAL_DIR)"
        if s3_start; then
            bucket=1
        else
            log "$s3_failed: bench manifest measures the folder only"
        fi
    fi
    for interval in $MANIFEST_INTERVALS; do
        log "bench manifest at MANIFEST_INTERVAL=$interval: $MANIFEST_RUNS run(s) of $MANIFEST_N statuses"
        "$BIN/bench" manifest -label kfake -brokers "$KFAKE" -bin "$BIN" -work "$DIR/work-manifest" -n "$MANIFEST_N" \
            -runs "$MANIFEST_RUNS" -interval "$interval" -out "$DIR/results-manifest-$interval.json" \
            || log "bench manifest at MANIFEST_INTERVAL=$interval failed: the table leaves it out"
        [[ -n "$bucket" ]] || continue
        log "bench manifest at MANIFEST_INTERVAL=$interval, in the bucket: $MANIFEST_RUNS run(s) of $MANIFEST_N statuses"
        # The exports (OUTPUT_URL, S3_ENDPOINT, the key pair) in a subshell:
        # the other runs archive to a folder.
        (eval "$s3_exports" && "$BIN/bench" manifest -label kfake -brokers "$KFAKE" -bin "$BIN" -work "$DIR/work-manifest" \
            -n "$MANIFEST_N" -runs "$MANIFEST_RUNS" -interval "$interval" -output-url "$OUTPUT_URL" \
            -out "$DIR/results-manifest-bucket-$interval.json") \
            || log "bench manifest at MANIFEST_INTERVAL=$interval in the bucket failed: the table leaves it out"
    done
    s3_stop
fi

# The broker is no longer needed.
kill -TERM "$broker_pid" 2>/dev/null || true
wait "$broker_pid" 2>/dev/null || true
broker_pid=

# --- uploads to object storage ------------------------------------------------------
# objstore.BenchmarkUpload on a versitygw of this script's own (S3_LOCAL_RUNNING=1:
# the benchmark uses it, and leaves stopping it to us). upload.txt is what the
# report reads: the benchmark's output, or why there is none.
if [[ "$OBJSTORE" == 1 ]]; then
    log "objstore.BenchmarkUpload on scripts/s3-local.sh's versitygw (127.0.0.1:${S3_LOCAL_PORT:-9000}, $S3_LOCAL_DIR), -count $OBJSTORE_COUNT"
    if ! s3_start; then
        echo "$s3_failed" >"$DIR/upload.txt"
        log "$s3_failed: no upload figures"
    elif (cd "$REPO_ROOT/consumer" && S3_LOCAL_SCRIPT="$SCRIPT_DIR/s3-local.sh" S3_LOCAL_RUNNING=1 \
            go test -run '^$' -bench '^BenchmarkUpload$' -benchmem -count "$OBJSTORE_COUNT" ./internal/objstore/) >>"$DIR/upload.log" 2>&1; then
        grep -E '^(Benchmark|pkg:|cpu:)' "$DIR/upload.log" >"$DIR/upload.txt"
    else
        echo "the benchmark failed: see $DIR/upload.log" >"$DIR/upload.txt"
        log "objstore.BenchmarkUpload failed (log $DIR/upload.log): no upload figures"
    fi
    s3_stop
fi

# --- Go micro-benchmarks ----------------------------------------------------------
if [[ "$MICRO" == 1 ]]; then
    : >"$DIR/profiles/micro.txt"
    for m in producer consumer; do
        # -cpuprofile takes one package at a time: every package with a benchmark.
        for pkg in $(cd "$REPO_ROOT/$m" && grep -rl --include='*_test.go' '^func Benchmark' . | xargs -rn1 dirname | sort -u); do
            name="$m-$(echo "${pkg#./}" | tr / -)"
            log "go test -bench in $m/$pkg"
            # objstore.BenchmarkUpload starts its own S3 server with s3-local.sh.
            (cd "$REPO_ROOT/$m" && S3_LOCAL_SCRIPT="${S3_LOCAL_SCRIPT:-$SCRIPT_DIR/s3-local.sh}" go test -tags libzstd -run '^$' -bench . -benchmem -count 1 \
                -cpuprofile "$DIR/profiles/$name.cpu.pprof" -o "$DIR/profiles/$name.test" "$pkg") >>"$DIR/profiles/micro.txt" 2>&1
            {
                echo "== go tool pprof -top $name.cpu.pprof"
                go tool pprof -top -nodecount 20 "$DIR/profiles/$name.test" "$DIR/profiles/$name.cpu.pprof" 2>/dev/null | sed -n '1,30p'
            } >>"$DIR/profiles/micro.txt"
            rm -f "$DIR/profiles/$name.test"
        done
    done
fi

# --- report ---------------------------------------------------------------------
kfake_version="$(cd "$REPO_ROOT/e2e" && go list -m -f '{{.Version}}' github.com/twmb/franz-go/pkg/kfake)"
desc="**kfake** = franz-go's in-process Kafka-protocol broker ($kfake_version), in memory, as its own process"
if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    desc="$desc; **kafka** = ${BENCH_KAFKA_DESC:-Apache Kafka $kafka_version, one KRaft node (scripts/kafka-local.sh), at $KAFKA_BROKERS}"
fi
echo
if [[ "$MICRO" == 1 ]]; then
    echo "## Go micro-benchmarks (allocations per op; an op is a batch: 1,000 records for archive.BenchmarkAppend, 100 for spool; a file's upload and its checkpoint for objstore.BenchmarkUpload, on scripts/s3-local.sh's versitygw)"
    grep -E '^(Benchmark|pkg:)' "$DIR/profiles/micro.txt" || true
    echo
fi
for svc in producer consumer; do
    if [[ -f "$DIR/profiles/$svc-perf.txt" ]]; then
        echo "## CPU profile of the $svc binary (perf, $RSS_ON broker, $N statuses)"
        cat "$DIR/profiles/$svc-perf.txt"
        echo
    fi
done
echo "## Results"
echo
files=()
for f in kfake kafka rss rss-wide; do [[ -f "$DIR/results-$f.json" ]] && files+=("$DIR/results-$f.json"); done
for f in "$DIR"/results-size-*.json; do [[ -f "$f" ]] && files+=("$f"); done
for interval in $MANIFEST_INTERVALS; do # each interval's folder and bucket side by side
    for f in "$DIR/results-manifest-$interval.json" "$DIR/results-manifest-bucket-$interval.json"; do
        [[ "$MANIFEST" == 1 && -f "$f" ]] && files+=("$f")
    done
done
report_args=()
[[ -n "$SIZES" ]] && report_args=(-chart "$CHART")
[[ -f "$DIR/upload.txt" ]] && report_args+=(-upload "$DIR/upload.txt")
load_end="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
if [[ -n "$reported_start" ]]; then
    reported_end="$(cat "$reported_kib" 2>/dev/null || echo "$reported_start")"
    reported_mib=$(((reported_end - reported_start) / 1024))
    log "free page reporting: $reported_mib MiB reported to the host during the run"
    report_args+=(-machine-note "free page reporting to the host on, $reported_mib MiB reported during the run")
fi
"$BIN/bench" report -kcat "$KCAT" -producer "$BIN/producer" -brokers-desc "$desc" -revision "$revision" \
    -load "$load_start at the start, $load_end at the end (1, 5, 15 min)" -out "$DIR/results.md" "${report_args[@]}" "${files[@]}"
echo
[[ -n "$SIZES" ]] && log "chart in $CHART"
log "done in $((SECONDS - t0))s; table in $DIR/results.md, logs in $DIR/work-* and $DIR/upload.log, profiles in $DIR/profiles"
