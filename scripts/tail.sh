#!/bin/sh
# Follows the newest active .jsonl file of every partition under a topic's
# output folder, and switches to the new files when the consumer rotates.
#
# POSIX sh, find, awk and sort only, plus tail -F (GNU, BSD and busybox
# all have it): it runs on Linux and on macOS or a BSD alike.
set -eu
dir=${1:-./data/tweets}

# newest prints, one a line and sorted, the file of each partition with the
# highest first offset: names are <topic>-p<N>-<offset>.jsonl, so that is the
# active one, whatever the files' times say.
newest() {
  find "$dir" -type f -name '*.jsonl' 2>/dev/null | awk '
    {
      n = split($0, parts, "/"); f = parts[n]
      if (!match(f, /-[0-9]+\.jsonl$/)) next
      part = substr(f, 1, RSTART - 1); off = substr(f, RSTART + 1, RLENGTH - 7) + 0
      if (!(part in best) || off > best[part]) { best[part] = off; path[part] = $0 }
    }
    END { for (p in path) print path[p] }' | sort
}

files=$(newest)
while [ -z "$files" ]; do
  echo "waiting for files under $dir ..."
  sleep 2
  files=$(newest)
done
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 0' INT TERM
while :; do
  # One path a line: split on newlines only, so folders with spaces work,
  # and no globbing (set -f), so names with * ? [ are taken as written.
  old_ifs=$IFS
  IFS='
'
  set -f
  # shellcheck disable=SC2086
  tail -n 5 -F $files &
  pid=$!
  set +f
  IFS=$old_ifs
  while [ "$(newest)" = "$files" ]; do sleep 5; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  files=$(newest)
done
