#!/bin/sh
# Follows the newest active .jsonl file of every partition under a topic's
# output folder, and switches to the new files when the consumer rotates:
# a new file from its first line, so no line is skipped at a rotation.
#
# POSIX sh, find, awk, sort, grep and tail only: it runs on Linux and on
# macOS or a BSD alike. One tail -f a file: it follows the open file, so it
# prints the lines written up to the rotation even once the consumer has
# compressed and removed it.
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

# followed holds "<pid> <file>" a line: the tail of each file followed.
followed=
follow() { # follow LINES FILE: tail FILE, first showing LINES (5, or +1: all)
  tail -n "$1" -f "$2" &
  followed="$followed$! $2
"
}
# has LIST LINE: whether LIST (one a line) holds LINE as a whole line.
has() { printf '%s\n' "$1" | grep -Fxq -- "$2"; }
stop_all() {
  for line in $followed; do kill "${line%% *}" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM

# One path a line: split on newlines only, so folders with spaces work, and
# no globbing (set -f), so names with * ? [ are taken as written.
IFS='
'
set -f
for f in $files; do follow 5 "$f"; done
while :; do
  sleep 2
  now=$(newest)
  [ "$now" = "$files" ] && continue
  for f in $now; do
    has "$files" "$f" || follow +1 "$f"
  done
  # A file that is no longer its partition's newest was closed before the
  # next one began: its tail has printed it, or does within its next poll
  # (busybox's tail polls every second).
  sleep 2
  kept=
  for line in $followed; do
    if has "$now" "${line#* }"; then
      kept="$kept$line
"
    else
      kill "${line%% *}" 2>/dev/null || true
    fi
  done
  followed=$kept
  files=$now
done
