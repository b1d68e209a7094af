#!/usr/bin/env bash
# Throughput of the history commands (issue 14): export (archive and jsonl), import, replay
# --speed max and mirror --once, against the reference measured in the same run: reading the
# same topic to its end with `sluice consume -e` (one client, the same fetch path). Figures
# only: nothing here passes or fails.
#
#   scripts/bench-copy.sh              200000 records of 100 bytes in 3 partitions
#   scripts/bench-copy.sh --records N --value-bytes B
#
# Environment: SLUICE_BIN (default target/release/sluice, built if missing), BENCH_DIR
# (default target/bench-copy; its disk is the one measured).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"

RECORDS=200000 VALUE_BYTES=100
while [[ $# -gt 0 ]]; do
  case $1 in
    --records) RECORDS=$2; shift ;;
    --value-bytes) VALUE_BYTES=$2; shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

sluice_resolve_bin
DIR=${BENCH_DIR:-$ROOT/target/bench-copy}
rm -rf "$DIR" && mkdir -p "$DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

A_PORT=$(free_port); broker_start "$DIR/a" "$A_PORT" "$DIR/a.log"; PIDS+=("$BROKER_PID")
B_PORT=$(free_port); broker_start "$DIR/b" "$B_PORT" "$DIR/b.log"; PIDS+=("$BROKER_PID")
A=127.0.0.1:$A_PORT B=127.0.0.1:$B_PORT
S=$SLUICE_BIN

"$S" topic create bench --partitions 3 -b "$A" >/dev/null
python3 -c "
import sys
v = 'x' * ($VALUE_BYTES - 8)
out = sys.stdout
for i in range($RECORDS):
    out.write(f'k{i % 1000}:{i:08d}{v}\n')
" | "$S" produce bench -K : --batch-records 2000 -b "$A"

# seconds CMD... : wall time of CMD in seconds (3 decimals), its output discarded
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$DIR/last.err" || { cat "$DIR/last.err" >&2; return 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}

row() {  # row NAME SECONDS REF_SECONDS
  python3 -c "
n, s, r = '$1', $2, $3
print(f'| {n} | {s:.2f} | {$RECORDS / s:,.0f} | {r / s * 100:.0f}% |')"
}

REF=$(seconds "$S" consume bench --from-beginning -e -b "$A")
echo
echo "$RECORDS records of $VALUE_BYTES bytes, 3 partitions ($(basename "$S"), $(nproc) cores)"
echo
echo "| command | seconds | records/s | of the consume reference |"
echo "|---|---|---|---|"
row "consume -e (reference)" "$REF" "$REF"
row "export .sluice" "$(seconds "$S" export bench -o "$DIR/e.sluice" -b "$A")" "$REF"
row "export .jsonl" "$(seconds "$S" export bench -o "$DIR/e.jsonl" -b "$A")" "$REF"
row "import .sluice (new topic on B)" "$(seconds "$S" import "$DIR/e.sluice" --topic imported --preserve-partitions -b "$B")" "$REF"
row "replay --speed max (A to A)" "$(seconds "$S" replay bench --to replayed --from-timestamp 0 --speed max -b "$A")" "$REF"
row "mirror --once (A to B)" "$(seconds "$S" mirror --from "$A" --to "$B" --topics bench --once)" "$REF"
echo
echo "archive $(stat -c %s "$DIR/e.sluice") bytes, jsonl $(stat -c %s "$DIR/e.jsonl") bytes"
