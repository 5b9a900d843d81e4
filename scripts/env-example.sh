#!/usr/bin/env bash
# Writes .env.example to stdout from the services' own -h output, so every
# variable they read is listed with its default and description.
set -euo pipefail
cd "$(dirname "$0")/.."
cat <<'HEAD'
# tweetpipe configuration. Copy to .env (git-ignored) and edit:
#   cp .env.example .env
# Every variable of both services is listed with its default; a commented
# line keeps the default. docker-compose.apps.yml gives both services this
# file; inside the compose network KAFKA_BROKERS is kafka:9092.
# Regenerate with `make env-example` after adding a variable.
HEAD
seen=" "
for svc in producer consumer; do
  printf '\n# %s\n# %s\n# %s\n' "==================================================================" \
    "$svc$([ $svc = producer ] && echo ' (and the variables both services read)')" \
    "=================================================================="
  # Rows of envconfig's usage table: KEY  TYPE  DEFAULT  REQUIRED  DESCRIPTION,
  # columns separated by two or more spaces.
  while IFS= read -r row; do
    key=$(awk -F'  +' '{print $1}' <<<"$row")
    case "$seen" in *" $key "*) continue ;; esac
    seen="$seen$key "
    type=$(awk -F'  +' '{print $2}' <<<"$row" | sed 's/Comma-separated list of String/comma list/')
    n=$(awk -F'  +' '{print NF}' <<<"$row")
    desc=$(awk -F'  +' '{print $NF}' <<<"$row")
    default=""
    [ "$n" -ge 4 ] && default=$(awk -F'  +' '{print $3}' <<<"$row")
    printf '# %s (%s)\n#%s=%s\n\n' "$desc" "$type" "$key" "$default"
  done < <(bin/$svc -h | awk 'f && NF {print} /^KEY[[:space:]]+TYPE/ {f=1}')
done
cat <<'TAIL'
# ==================================================================
# secrets from files: each credential may instead be read from the file its
# *_FILE variable names (under compose: /run/secrets/..., from ./secrets/).
# ==================================================================
#TWITTER_CONSUMER_KEY_FILE=
#TWITTER_CONSUMER_SECRET_FILE=
#TWITTER_ACCESS_TOKEN_FILE=
#TWITTER_ACCESS_SECRET_FILE=
#X_BEARER_TOKEN_FILE=
#KAFKA_SASL_PASSWORD_FILE=
#AWS_ACCESS_KEY_ID_FILE=
#AWS_SECRET_ACCESS_KEY_FILE=

# ==================================================================
# read by docker compose itself (docker-compose.apps.yml), not the services
# ==================================================================
# image tag and the version stamped in the binaries
#TWEETPIPE_VERSION=dev
# uid and gid the containers run as; make apps-up passes yours, so the
# host folders below stay yours (default: distroless nonroot, 65532)
#TWEETPIPE_UID=65532
#TWEETPIPE_GID=65532
# host folders of the stack (make up creates them as you; `make up
# OUTPUT_DIR=...` wins over HOST_OUTPUT_DIR, for make tail too)
# host folder the consumer writes the archive to
#HOST_OUTPUT_DIR=./data
# host folder mounted read-only at /replay for SOURCE=replay
#REPLAY_DIR=./replay
# host folder for the producer's resume positions (STATE_DIR=/state inside)
#STATE_DIR_HOST=./state
# the brokers the containers use (the Kafka stack's kafka:9092); KAFKA_BROKERS
# above is for programs on the host and never reaches the containers
#TWEETPIPE_KAFKA_BROKERS=kafka:9092
# The image build takes GOPROXY, GOSUMDB, GONOSUMDB, GOPRIVATE and GOFLAGS
# from the shell that runs compose (make passes the first four from `go
# env`); unset, Go's defaults.
TAIL
