#!/bin/sh
# apps-check.sh COMPOSE-COMMAND...: run by `make apps-up` after `up -d`.
# Fails, with each one's last log lines, when a service of the stack keeps
# restarting or exited with an error within APPS_CHECK_SECONDS (4) of the
# start: a setting the service refuses (it exits 2 at once, naming the
# variable) would otherwise leave `make up` saying the stack started while
# the container restarts for ever. A service that exited 0 (a replay that
# finished) is fine.
#
# POSIX sh and awk: COMPOSE-COMMAND is the compose command with its -f,
# e.g. docker compose -f docker-compose.apps.yml.
set -eu
seconds=${APPS_CHECK_SECONDS:-4}
failing() {
  "$@" ps -a --format '{{.Service}} {{.State}} {{.ExitCode}}' 2>/dev/null |
    awk '$2 == "restarting" || ($2 == "exited" && $3 != "0") { print $1 }' | sort -u
}
bad=$(failing "$@")
while [ -z "$bad" ] && [ "$seconds" -gt 0 ]; do
  sleep 1
  seconds=$((seconds - 1))
  bad=$(failing "$@")
done
[ -z "$bad" ] && exit 0
for svc in $bad; do
  echo "make up: the $svc service is not running (it keeps restarting, or exited with an error); its last log lines:" >&2
  "$@" logs --no-log-prefix --tail 5 "$svc" >&2 || true
done
echo "make up: fix the setting named above (in .env), then make up again; make logs shows more" >&2
exit 1
