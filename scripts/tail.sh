#!/usr/bin/env bash
# Follows the newest active .jsonl file of every partition under a topic's
# output folder, and switches to the new files when the consumer rotates.
set -euo pipefail
dir=${1:-./data/tweets}
newest() {
  # The newest plain (active) file per partition: names are <topic>-p<N>-<offset>.jsonl.
  find "$dir" -name '*.jsonl' -printf '%T@ %p\n' 2>/dev/null | sort -n | awk '
    { n = split($2, parts, "/"); f = parts[n]; sub(/-[0-9]+\.jsonl$/, "", f); last[f] = $2 }
    END { for (p in last) print last[p] }' | sort
}
until [ -n "$(newest)" ]; do echo "waiting for files under $dir ..."; sleep 2; done
while true; do
  files=$(newest)
  tail -n 5 -F $files &
  pid=$!
  while [ "$(newest)" = "$files" ]; do sleep 5; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
