#!/usr/bin/env bash
# docker-test.sh: the README's Docker path, run for real on a Docker engine
# from a fresh clone of the committed HEAD, as root and then as a non-root
# user, with the checks a user relies on:
#
#   1. root: make up; Kafka and both services healthy; statuses in ./data,
#      owned by the user who ran make; the containers hardened (docker
#      inspect: read-only root, all capabilities dropped, no-new-privileges,
#      tmpfs only where a service writes); make tail shows new lines;
#      make scale CONSUMERS=3, then 1; neither stack sees the other's
#      containers as orphans and `down` of one leaves the other running;
#      docker kill of a consumer while it writes; make down; make up; make ps;
#      SOURCE=replay in .env, make up, until the producer (reading ./replay)
#      stops; then every status in the tweets topic (read with kcat from the
#      host, localhost:9094) is in the files exactly once; make down.
#   2. a non-root user in the docker group: make up; ./data and the
#      containers are that user's; make scale CONSUMERS=2; make down.
#   3. the s3 profile, as root on a fresh Kafka: SOURCE=replay and
#      ROTATE_INTERVAL=5s in .env, COMPOSE_PROFILES=s3 make up; versitygw
#      (s3) and the consumer healthy, the consumer's bucket checked, s3
#      hardened, neither container's `docker inspect` holding the secret
#      key; once the producer stops, every status in the tweets topic is in
#      the bucket's objects (read as files under ./s3data/tweetpipe, where
#      versitygw keeps them) exactly once, and nothing is left staged in
#      ./data; make down (without the profile) stops s3 too.
#
# It prints every step, the versions, the final counts and
# `docker: N passed, M failed`; it exits non-zero on any failure.
#
# It REMOVES the Compose projects tweetpipe and tweetpipe-kafka (containers
# and the Kafka volume) before and after: run it on a CI or scratch machine,
# never beside stacks you keep. Needs a running engine, Compose v2, kcat,
# python3, git, make, and the base images (docker pulls them, or
# scripts/docker-images.sh makes them). scripts/docker-engine.sh sets up the
# first two on Debian.
#
# Environment:
#   DOCKER_TEST_USER      non-root user for part 2, created (in the docker
#                         group) when missing; empty skips part 2
#                         (default tweetpipe-ci when run as root, else empty)
#   DOCKER_TEST_REPLAY    folder of .json/.jsonl files for SOURCE=replay
#                         (default ../shared/fixtures/tweets where it
#                         exists, else the project's testdata/tweets/v1.1)
#   DOCKER_TEST_DIR       where the clones go (default: a new temporary folder)
#   DOCKER_TEST_PARTS     the parts to run, of "root user s3" (default all
#                         three; part 2 also needs DOCKER_TEST_USER)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
if ((EUID == 0)); then
    TEST_USER="${DOCKER_TEST_USER-tweetpipe-ci}"
else
    TEST_USER="${DOCKER_TEST_USER:-}"
fi
REPLAY_SRC="${DOCKER_TEST_REPLAY:-$REPO_ROOT/../shared/fixtures/tweets}"
[[ -n "${DOCKER_TEST_REPLAY:-}" || -d "$REPLAY_SRC" ]] || REPLAY_SRC="$REPO_ROOT/testdata/tweets/v1.1"
WORK="${DOCKER_TEST_DIR:-$(mktemp -d /tmp/tweetpipe-docker-test.XXXXXX)}"
PARTS=" ${DOCKER_TEST_PARTS:-root user s3} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
APPS=tweetpipe
KAFKA=tweetpipe-kafka
TOPIC=tweets
HOST_BROKER=localhost:9094

t0=$SECONDS
phase_t0=$SECONDS
phase_name=
passed=0
failed=0
timings=()

phase() {
    [[ -n "$phase_name" ]] && timings+=("$(printf '%-52s %4ds' "$phase_name" $((SECONDS - phase_t0)))")
    phase_name="$*"
    phase_t0=$SECONDS
    [[ -n "$phase_name" ]] && printf '\n---------- %s (%ds) ----------\n' "$phase_name" $((SECONDS - t0))
    return 0
}
step() { printf '[%4ds] %s\n' $((SECONDS - t0)) "$*"; }
ok() { passed=$((passed + 1)); printf '[%4ds]   ok    %s\n' $((SECONDS - t0)) "$*"; }
bad() { failed=$((failed + 1)); printf '[%4ds]   FAIL  %s\n' $((SECONDS - t0)) "$*"; }
check() { # check DESCRIPTION COMMAND...
    local d="$1"
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
die() {
    bad "$*"
    finish
}
finish() {
    phase ""
    printf '\n---------- timings ----------\n'
    printf '%s\n' "${timings[@]}"
    printf 'total %ds\n' $((SECONDS - t0))
    printf '\ndocker: %d passed, %d failed\n' "$passed" "$failed"
    ((failed == 0)) || exit 1
    exit 0
}

# as USER DIR COMMAND: runs a shell command in DIR as USER (root: as is).
as() {
    local user="$1" dir="$2" cmd="$3"
    if [[ "$user" == root ]]; then
        (cd "$dir" && bash -c "$cmd")
    else
        # A login shell, with this PATH (Go on it, as on a developer's).
        runuser -l "$user" -c "export PATH='$PATH'; cd '$dir' && $cmd"
    fi
}

# containers PROJECT [SERVICE]: ids of the project's containers (running or not).
containers() {
    local f=(--filter "label=com.docker.compose.project=$1")
    [[ -n "${2:-}" ]] && f+=(--filter "label=com.docker.compose.service=$2")
    docker ps -aq "${f[@]}"
}
state() { docker inspect -f "$2" "$1" 2>/dev/null; }

# wait_healthy PROJECT SERVICE N TIMEOUT: N containers of SERVICE, all healthy.
wait_healthy() {
    local p="$1" s="$2" n="$3" deadline=$((SECONDS + $4)) ids c healthy
    while ((SECONDS < deadline)); do
        mapfile -t ids < <(containers "$p" "$s")
        healthy=0
        for c in "${ids[@]}"; do
            [[ "$(state "$c" '{{.State.Health.Status}}')" == healthy ]] && healthy=$((healthy + 1))
        done
        ((${#ids[@]} == n && healthy == n)) && return 0
        sleep 2
    done
    step "$p/$s: ${#ids[@]} containers, $healthy healthy after $4s; want $n healthy"
    for c in "${ids[@]}"; do docker logs --tail 20 "$c" 2>&1 | sed "s/^/    $s: /"; done
    return 1
}

# hardened CONTAINER TMPFS...: read-only root, every capability dropped,
# no-new-privileges, and tmpfs mounts exactly at TMPFS.
hardened() {
    local c="$1" name ro caps sec tmpfs want
    shift
    name="$(state "$c" '{{.Name}}')"
    ro="$(state "$c" '{{.HostConfig.ReadonlyRootfs}}')"
    caps="$(state "$c" '{{join .HostConfig.CapDrop ","}}')"
    sec="$(state "$c" '{{join .HostConfig.SecurityOpt ","}}')"
    tmpfs="$(state "$c" '{{range $k, $v := .HostConfig.Tmpfs}}{{$k}} {{end}}' | xargs -n1 2>/dev/null | sort | xargs)"
    want="$(printf '%s\n' "$@" | sort | xargs)"
    step "inspect $name: ReadonlyRootfs=$ro CapDrop=$caps SecurityOpt=$sec Tmpfs=[$tmpfs]"
    [[ "$ro" == true && "${caps^^}" == ALL && ",$sec," == *,no-new-privileges* && "$tmpfs" == "$want" ]]
}

# runs_as CONTAINER UID:GID
runs_as() { [[ "$(state "$1" '{{.Config.User}}')" == "$2" ]]; }

no_orphans() { ! grep -qi orphan "$1"; }

# data_lines DIR: JSON lines in the topic's data files. A folder not made
# yet, or a file renamed or removed while find walks (a rotation), counts
# what there is: find's status would fail the pipeline and, in an
# assignment, end the script (pipefail, set -e).
data_lines() { { find "$1/$TOPIC" -name '*.jsonl' -exec cat {} + 2>/dev/null || true; } | wc -l; }

# compare FOLDER: every status in the topic is in the files under FOLDER
# (./data/tweets, or the bucket's objects as files) exactly once. Prints the
# counts; succeeds when nothing is missing or duplicated.
compare() {
    local dir="$1"
    kcat -b "$HOST_BROKER" -C -t "$TOPIC" -o beginning -e -q -f '%s\n' >"$WORK/kafka.txt" 2>"$WORK/kcat.err" \
        || { cat "$WORK/kcat.err"; return 1; }
    python3 - "$WORK/kafka.txt" "$dir" <<'EOF'
import collections, gzip, json, os, re, sys

def ident(line):
    try:
        v = json.loads(line)
    except ValueError:
        return None
    return v.get("id_str") if isinstance(v, dict) else None

kafka_ids, kafka_other, n_kafka, copies = set(), collections.Counter(), 0, 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        line = line.rstrip(b"\n")
        n_kafka += 1
        i = ident(line)
        if i:
            copies += i in kafka_ids
            kafka_ids.add(i)
        else:
            kafka_other[line] += 1
file_ids, file_other, n_files, odd = collections.Counter(), collections.Counter(), 0, []
for root, _, names in os.walk(sys.argv[2]):
    for name in names:
        p = os.path.join(root, name)
        if name.endswith(".jsonl"):
            f = open(p, "rb")
        elif name.endswith(".jsonl.gz"):
            f = gzip.open(p, "rb")
        elif name == "_manifest.json":  # an hour's list of its files (MANIFEST=on)
            continue
        elif re.fullmatch(r"\._manifest\.json\.[0-9]+-[0-9a-f]{16}\.tmp", name):
            continue  # a manifest's temporary file, left by a kill mid-write; the finalizer removes it later
        else:
            odd.append(p)
            continue
        with f:
            for line in f:
                line = line.rstrip(b"\n")
                n_files += 1
                i = ident(line)
                if i:
                    file_ids[i] += 1
                else:
                    file_other[line] += 1
missing = len(kafka_ids - file_ids.keys())
duplicated = sum(n - 1 for n in file_ids.values() if n > 1)
extra = len(file_ids.keys() - kafka_ids)
other_missing = sum((kafka_other - file_other).values())
other_extra = sum((file_other - kafka_other).values())
print(f"in Kafka (kcat -b localhost:9094 -t tweets): {n_kafka} messages: {len(kafka_ids)} distinct statuses, {copies} more copies of one of them (the dedup window drops those), {sum(kafka_other.values())} other values")
print(f"in the files: {n_files} lines, {len(file_ids)} distinct statuses, {sum(file_other.values())} other values")
print(f"missing {missing}, duplicated {duplicated}, not in Kafka {extra}; other values missing {other_missing}, not in Kafka {other_extra}; unexpected files {len(odd)}")
sys.exit(0 if missing == duplicated == extra == other_missing == other_extra == len(odd) == 0 else 1)
EOF
}

# fresh_clone DIR: the committed HEAD of this repository, cloned into DIR.
fresh_clone() {
    git clone -q --no-local --no-checkout "$REPO_ROOT" "$1"
    git -C "$1" checkout -q --detach "$(git -C "$REPO_ROOT" rev-parse HEAD)"
}

reset_stacks() {
    docker compose -p "$APPS" down --remove-orphans >/dev/null 2>&1 || true
    docker compose -p "$KAFKA" down --remove-orphans --volumes >/dev/null 2>&1 || true
    docker rm -f kafka >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------

phase "versions"
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (scripts/docker-engine.sh start)" >&2; exit 1; }
step "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}')"
step "$(docker compose version)"
step "kcat $(kcat -V 2>&1 | sed -nE 's/^Version ([^ ]+).*(librdkafka [^ ]+).*/\1 (\2)/p')"
step "$(go version 2>/dev/null || echo 'go: not on PATH (image builds use Go defaults)')"
docker buildx version >/dev/null 2>&1 && step "buildx $(docker buildx version)" || step "no buildx: the classic builder (the Makefile sets DOCKER_BUILDKIT=0)"
step "commit $(git -C "$REPO_ROOT" rev-parse --short HEAD), clones under $WORK"
for img in "$(sed -nE 's/^FROM (golang:[^ ]+) AS .*/\1/p' "$REPO_ROOT/producer/Dockerfile")" \
    gcr.io/distroless/static-debian12:nonroot \
    "$(sed -nE 's/^[[:space:]]*image:[[:space:]]*(apache\/kafka:[^ ]+).*/\1/p' "$REPO_ROOT/docker-compose.kafka.yml")" \
    "$(sed -nE 's/^[[:space:]]*image:[[:space:]]*(versity\/versitygw:[^ ]+).*/\1/p' "$REPO_ROOT/docker-compose.apps.yml")"; do
    docker image inspect "$img" >/dev/null 2>&1 && step "base image $img present" \
        || step "base image $img missing: docker will pull it (scripts/docker-images.sh makes it without a registry)"
done
reset_stacks

# ---------------------------------------------------------------------------
if part root; then
    phase "root: fresh clone, make up"
    ROOT_CLONE="$WORK/root/tweetpipe"
    mkdir -p "$WORK/root"
    fresh_clone "$ROOT_CLONE"
    mkdir -p "$ROOT_CLONE/replay"
    find "$REPLAY_SRC" -type f \( -name '*.json' -o -name '*.jsonl' \) -exec cp {} "$ROOT_CLONE/replay/" \;
    step "replay files: $(ls "$ROOT_CLONE/replay" | xargs)"
    step "make up"
    as root "$ROOT_CLONE" "make up" >"$WORK/up1.log" 2>&1 || { tail -n 40 "$WORK/up1.log"; die "make up failed"; }
    ok "make up"
    check "make up: no orphan warnings" no_orphans "$WORK/up1.log"
    check "kafka healthy" wait_healthy "$KAFKA" kafka 1 120
    check "producer healthy" wait_healthy "$APPS" producer 1 120
    check "consumer healthy" wait_healthy "$APPS" consumer 1 120

    phase "root: statuses on the host, owned by root"
    deadline=$((SECONDS + 60))
    until (($(data_lines "$ROOT_CLONE/data") > 0)) || ((SECONDS > deadline)); do sleep 2; done
    n=$(data_lines "$ROOT_CLONE/data")
    check "$n lines in ./data/$TOPIC" test "$n" -gt 0
    check "everything in ./data belongs to uid 0" test -z "$(find "$ROOT_CLONE/data" ! -uid 0 -print -quit)"

    phase "hardening (docker inspect)"
    check "kafka hardened, tmpfs at /opt/kafka/config /opt/kafka/logs /tmp" \
        hardened "$(containers "$KAFKA" kafka)" /opt/kafka/config /opt/kafka/logs /tmp
    check "producer hardened, no tmpfs" hardened "$(containers "$APPS" producer)"
    check "consumer hardened, no tmpfs" hardened "$(containers "$APPS" consumer)"
    check "producer runs as 0:0 (make's user)" runs_as "$(containers "$APPS" producer)" 0:0

    phase "make tail"
    as root "$ROOT_CLONE" "timeout 20 make tail" >"$WORK/tail.log" 2>&1 || true
    # make tail runs one tail -f a partition's newest file (no headers): as
    # many files as partitions with files under ./data/<topic>.
    files=$({ find "$ROOT_CLONE/data/$TOPIC" -type f -name '*.jsonl' || true; } | sed -n 's/.*-\(p[0-9]*\)-[0-9]*\.jsonl$/\1/p' | sort -u | wc -l)
    lines=$(grep -c '^{' "$WORK/tail.log" || true)
    step "make tail for 20s: $lines lines, $files partitions followed"
    check "make tail shows new lines (more than the last 5 of each of $files partitions' files)" test "$lines" -gt $((files * 5))

    phase "make scale CONSUMERS=3, then 1"
    as root "$ROOT_CLONE" "make scale CONSUMERS=3" >"$WORK/scale3.log" 2>&1 || { tail -n 20 "$WORK/scale3.log"; bad "make scale CONSUMERS=3"; }
    check "3 consumers healthy" wait_healthy "$APPS" consumer 3 120
    for c in $(containers "$APPS" consumer); do
        check "$(state "$c" '{{.Name}}') runs as 0:0" runs_as "$c" 0:0
    done
    as root "$ROOT_CLONE" "make scale CONSUMERS=1" >"$WORK/scale1.log" 2>&1 || { tail -n 20 "$WORK/scale1.log"; bad "make scale CONSUMERS=1"; }
    check "1 consumer healthy" wait_healthy "$APPS" consumer 1 120

    phase "two projects: no orphans, down of one leaves the other"
    as root "$ROOT_CLONE" "docker compose -f docker-compose.apps.yml down --remove-orphans" >"$WORK/apps-down.log" 2>&1
    check "apps down --remove-orphans: kafka still running" test "$(state kafka '{{.State.Running}}')" = true
    check "apps down: no app containers left" test -z "$(containers "$APPS")"
    as root "$ROOT_CLONE" "make apps-up" >"$WORK/apps-up.log" 2>&1 || { tail -n 20 "$WORK/apps-up.log"; bad "make apps-up"; }
    check "make apps-up: no orphan warnings" no_orphans "$WORK/apps-up.log"
    check "consumer healthy again" wait_healthy "$APPS" consumer 1 120
    as root "$ROOT_CLONE" "docker compose -f docker-compose.kafka.yml down --remove-orphans" >"$WORK/kafka-down.log" 2>&1
    check "kafka down --remove-orphans: producer and consumer still running" \
        test "$(docker ps -q --filter "label=com.docker.compose.project=$APPS" | wc -l)" -eq 2
    as root "$ROOT_CLONE" "make kafka-up" >"$WORK/kafka-up.log" 2>&1 || { tail -n 20 "$WORK/kafka-up.log"; bad "make kafka-up"; }
    check "make kafka-up: no orphan warnings" no_orphans "$WORK/kafka-up.log"
    check "consumer healthy with Kafka back" wait_healthy "$APPS" consumer 1 180

    phase "docker kill a consumer while it writes; make down; make up"
    before=$(data_lines "$ROOT_CLONE/data")
    deadline=$((SECONDS + 60))
    until (($(data_lines "$ROOT_CLONE/data") > before)) || ((SECONDS > deadline)); do sleep 1; done
    c="$(containers "$APPS" consumer)"
    check "consumer writing before the kill ($before lines, then $(data_lines "$ROOT_CLONE/data"))" \
        test "$(data_lines "$ROOT_CLONE/data")" -gt "$before"
    docker kill "$c" >/dev/null
    step "killed $(state "$c" '{{.Name}}') (exit $(state "$c" '{{.State.ExitCode}}'))"
    as root "$ROOT_CLONE" "make down" >"$WORK/down1.log" 2>&1 || { tail -n 20 "$WORK/down1.log"; bad "make down"; }
    check "make down: no containers of either stack" test -z "$(containers "$APPS")$(containers "$KAFKA")"
    as root "$ROOT_CLONE" "make up" >"$WORK/up2.log" 2>&1 || { tail -n 40 "$WORK/up2.log"; die "make up (again) failed"; }
    ok "make up again"
    check "make up again: no orphan warnings" no_orphans "$WORK/up2.log"
    check "consumer healthy after make up" wait_healthy "$APPS" consumer 1 120
    as root "$ROOT_CLONE" "make ps" >"$WORK/ps.log" 2>&1 || bad "make ps"
    sed 's/^/    /' "$WORK/ps.log"
    check "make ps lists kafka, the producer and the consumer" \
        grep -q -e '^kafka ' "$WORK/ps.log" -e '^tweetpipe-producer-1 ' -e '^tweetpipe-consumer-1 '

    phase "SOURCE=replay from ./replay until the producer stops"
    printf '\nSOURCE=replay\n' >>"$ROOT_CLONE/.env"
    step "SOURCE=replay in .env; make up"
    as root "$ROOT_CLONE" "make up" >"$WORK/replay.log" 2>&1 || { tail -n 20 "$WORK/replay.log"; bad "make up with SOURCE=replay"; }
    p="$(containers "$APPS" producer)"
    deadline=$((SECONDS + 180))
    until [[ "$(state "$p" '{{.State.Status}}')" == exited ]] || ((SECONDS > deadline)); do sleep 2; done
    docker logs --tail 5 "$p" 2>&1 | sed 's/^/    producer: /'
    check "producer stopped with exit code 0" test "$(state "$p" '{{.State.Status}} {{.State.ExitCode}}')" = "exited 0"

    phase "every status in Kafka is in the files exactly once"
    # The consumer may still be writing the last batches: ask again until the
    # counts agree or 180 s have passed.
    deadline=$((SECONDS + 180))
    exact=false
    while :; do
        compare "$ROOT_CLONE/data/$TOPIC" >"$WORK/compare.log" 2>&1 && exact=true && break
        ((SECONDS > deadline)) && break
        sleep 5
    done
    sed 's/^/    /' "$WORK/compare.log"
    check "every status in $TOPIC is in the files exactly once (missing 0, duplicated 0)" $exact
    as root "$ROOT_CLONE" "make down" >"$WORK/down2.log" 2>&1 || bad "make down"
fi

# ---------------------------------------------------------------------------
if part user && [[ -n "$TEST_USER" ]]; then
    phase "non-root user $TEST_USER: make up, ./data is theirs, make down"
    id "$TEST_USER" >/dev/null 2>&1 || useradd --create-home --groups docker --shell /bin/bash "$TEST_USER"
    usermod -aG docker "$TEST_USER"
    uid=$(id -u "$TEST_USER")
    gid=$(id -g "$TEST_USER")
    home=$(getent passwd "$TEST_USER" | cut -d: -f6)
    USER_CLONE="$home/tweetpipe-docker-test"
    rm -rf "$USER_CLONE"
    fresh_clone "$USER_CLONE"
    chown -R "$uid:$gid" "$USER_CLONE"
    as "$TEST_USER" "$USER_CLONE" "make up" >"$WORK/user-up.log" 2>&1 || { tail -n 40 "$WORK/user-up.log"; bad "make up as $TEST_USER"; }
    check "make up as $TEST_USER: no orphan warnings" no_orphans "$WORK/user-up.log"
    check "consumer healthy" wait_healthy "$APPS" consumer 1 120
    check "producer healthy" wait_healthy "$APPS" producer 1 120
    check "producer runs as $uid:$gid" runs_as "$(containers "$APPS" producer)" "$uid:$gid"
    as "$TEST_USER" "$USER_CLONE" "make scale CONSUMERS=2" >"$WORK/user-scale.log" 2>&1 || bad "make scale CONSUMERS=2 as $TEST_USER"
    check "2 consumers healthy" wait_healthy "$APPS" consumer 2 120
    for c in $(containers "$APPS" consumer); do
        check "$(state "$c" '{{.Name}}') runs as $uid:$gid" runs_as "$c" "$uid:$gid"
    done
    deadline=$((SECONDS + 60))
    until (($(data_lines "$USER_CLONE/data") > 0)) || ((SECONDS > deadline)); do sleep 2; done
    n=$(data_lines "$USER_CLONE/data")
    check "$n lines in ./data/$TOPIC" test "$n" -gt 0
    check "everything in ./data belongs to $TEST_USER ($uid)" test -z "$(find "$USER_CLONE/data" ! -uid "$uid" -print -quit)"
    as "$TEST_USER" "$USER_CLONE" "make down" >"$WORK/user-down.log" 2>&1 || bad "make down as $TEST_USER"
    check "make down as $TEST_USER: no containers of either stack" test -z "$(containers "$APPS")$(containers "$KAFKA")"
fi

# ---------------------------------------------------------------------------
if part s3; then
    phase "s3: COMPOSE_PROFILES=s3 make up, replay into the bucket"
    # A fresh Kafka: the topic holds only what this part sends.
    reset_stacks
    S3_CLONE="$WORK/s3/tweetpipe"
    mkdir -p "$WORK/s3"
    fresh_clone "$S3_CLONE"
    mkdir -p "$S3_CLONE/replay"
    find "$REPLAY_SRC" -type f \( -name '*.json' -o -name '*.jsonl' \) -exec cp {} "$S3_CLONE/replay/" \;
    # Files close (and go to the bucket) 5 s after they open, not after an hour.
    cp "$S3_CLONE/.env.example" "$S3_CLONE/.env"
    printf '\nSOURCE=replay\nROTATE_INTERVAL=5s\n' >>"$S3_CLONE/.env"
    step "SOURCE=replay ROTATE_INTERVAL=5s in .env; COMPOSE_PROFILES=s3 make up"
    as root "$S3_CLONE" "COMPOSE_PROFILES=s3 make up" >"$WORK/s3-up.log" 2>&1 || { tail -n 40 "$WORK/s3-up.log"; die "COMPOSE_PROFILES=s3 make up failed"; }
    ok "COMPOSE_PROFILES=s3 make up"
    check "COMPOSE_PROFILES=s3 make up: no orphan warnings" no_orphans "$WORK/s3-up.log"
    check "make wrote .env.s3 (OUTPUT_URL=s3://tweetpipe/archive)" grep -qx 'OUTPUT_URL=s3://tweetpipe/archive' "$S3_CLONE/.env.s3"
    check "s3 (versitygw) healthy" wait_healthy "$APPS" s3 1 120
    check "consumer healthy" wait_healthy "$APPS" consumer 1 120
    s3c="$(containers "$APPS" s3)"
    cc="$(containers "$APPS" consumer)"
    docker logs "$cc" 2>&1 | grep 'bucket checked' | sed -n '1s/^/    consumer: /p'
    check "consumer checked the bucket s3://tweetpipe/archive at http://s3:7070" \
        bash -c "docker logs '$cc' 2>&1 | grep 'bucket checked' | grep 's3://tweetpipe/archive' >/dev/null"
    check "s3 hardened, no tmpfs" hardened "$s3c"
    check "s3 runs as 0:0 (make's user)" runs_as "$s3c" 0:0
    secret="$(cat "$S3_CLONE/secrets/s3_secret_key")"
    check "make wrote a secret key of 48 hex digits" bash -c "[[ '$secret' =~ ^[0-9a-f]{48}\$ ]]"
    check "docker inspect of s3 and the consumer: no secret key" \
        bash -c "! docker inspect '$s3c' '$cc' | grep -F '$secret' >/dev/null"
    p="$(containers "$APPS" producer)"
    deadline=$((SECONDS + 180))
    until [[ "$(state "$p" '{{.State.Status}}')" == exited ]] || ((SECONDS > deadline)); do sleep 2; done
    check "producer stopped with exit code 0" test "$(state "$p" '{{.State.Status}} {{.State.ExitCode}}')" = "exited 0"

    phase "s3: every status in Kafka is in the bucket once"
    objects="$S3_CLONE/s3data/tweetpipe/archive/$TOPIC"
    deadline=$((SECONDS + 180))
    exact=false
    while :; do
        compare "$objects" >"$WORK/s3-compare.log" 2>&1 && exact=true && break
        ((SECONDS > deadline)) && break
        sleep 5
    done
    sed 's/^/    /' "$WORK/s3-compare.log"
    step "objects: $(find "$objects" -type f 2>/dev/null | wc -l) under ./s3data/tweetpipe/archive/$TOPIC, $(find "$S3_CLONE/s3data/tweetpipe/archive/_state" -type f 2>/dev/null | wc -l) checkpoints under _state"
    check "every status in $TOPIC is in the bucket's objects exactly once (missing 0, duplicated 0)" $exact
    check "nothing left staged in ./data/$TOPIC ($(data_lines "$S3_CLONE/data") lines)" test "$(data_lines "$S3_CLONE/data")" -eq 0
    # Without the profile: make down stops s3 all the same.
    as root "$S3_CLONE" "make down" >"$WORK/s3-down.log" 2>&1 || bad "make down"
    check "make down: no containers of either stack, s3 included" test -z "$(containers "$APPS")$(containers "$KAFKA")"
fi

reset_stacks
finish
