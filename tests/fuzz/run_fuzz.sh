#!/usr/bin/env bash
# Short libFuzzer run for CI: starts from the committed corpus, writes new inputs to a temp dir
# (never into the source tree), stops after SECONDS. Usage: run_fuzz.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 secs=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work" "$corpus" 2>"$work/log" || {
  tail -60 "$work/log"
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -e "$a" ] && { echo "artifact: $a"; xxd "$a" | head -20; }
  done
  exit 1
}
grep -E 'stat::number_of_executed_units|Done' "$work/log" | tail -2
