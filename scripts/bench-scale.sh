#!/usr/bin/env bash
# What partitions and connections cost as their number grows (issue 15, item 8 started), with
# the machine's physical references and the process limits measured in the same run. Figures
# only: nothing here passes or fails. Also reached as `scripts/bench.sh --scale`.
#
#   scripts/bench-scale.sh                  partitions 1,1000; written 1000; connections 10,1000;
#                                           groups 10,100 (a few minutes)
#   scripts/bench-scale.sh --full           partitions 1,1000,10000,50000; written 1000,10000,50000;
#                                           connections 10,1000,10000; groups 10,100,1000
#   scripts/bench-scale.sh --partitions 1,5000 --connections 10,2000 --groups 10,500
#   scripts/bench-scale.sh --only-lifecycle --lifecycle 1000,10000,50000 --written 10000,50000
#                                           start and shutdown only
#
# Partitions: per count a fresh broker, one topic of that many partitions (CreateTopics time),
# descriptors, memory maps and RSS (anonymous / file-backed) after creation, produce throughput
# of 100 B records each sent to a random partition (confluent-kafka, one Python process, so the
# client is likely the bottleneck at small counts: compare rows with each other), clean shutdown
# (SIGTERM to exit), then start on that data and the same figures after it.
# Written: per count a fresh broker, one record in every partition (so every log is open and
# must be closed), clean shutdown, start, every partition's offsets, shutdown with none touched,
# start, kill -9, start.
# Connections: idle connections (one ApiVersions each, then held) added in steps on one broker;
# its RSS and the produce latency (acks=1, one record at a time) of one extra producer.
# Groups: per count a fresh broker, that many KIP-848 groups of 10 members, each member
# heartbeating and committing once a second (examples/groups_load.rs, built here in release),
# for GROUPS_SECONDS (default 20): commit rate and latency, broker CPU and RSS, the size of
# __consumer_offsets, then a clean restart that replays every group.
#
# Environment: SLUICE_BIN (default target/release/sluice), BENCH_DIR (default target/bench-scale),
# PYTHON (default .venv/bin/python). Broker logs and client errors are kept in BENCH_DIR.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARTS=1,1000 CONNS=10,1000 GROUP_COUNTS=10,100 LIFE=1000 WRITTEN=1000
while [[ $# -gt 0 ]]; do
  case $1 in
    --full) PARTS=1,1000,10000,50000 CONNS=10,1000,10000 GROUP_COUNTS=10,100,1000 LIFE=1000,10000,50000 WRITTEN=1000,10000,50000 ;;
    --lifecycle) LIFE=$2; shift ;;
    --written) WRITTEN=$2; shift ;;
    --only-lifecycle) ONLY_LIFE=1 ;;
    --partitions) PARTS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --groups) GROUP_COUNTS=$2; shift ;;
    -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BIN="${SLUICE_BIN:-$ROOT/target/release/sluice}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x $BIN ]] || { echo "no broker binary at $BIN (cargo build --release, or set SLUICE_BIN)" >&2; exit 2; }
DIR="${BENCH_DIR:-$ROOT/target/bench-scale}"
rm -rf "$DIR"; mkdir -p "$DIR"
REFS="python3 $ROOT/scripts/lib/bench_refs.py"

echo "## scale figures ($(date -u +%Y-%m-%dT%H:%MZ), $BIN)"
echo
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "process limits: RLIMIT_NOFILE soft $(ulimit -Sn) hard $(ulimit -Hn) (the broker raises soft to hard);" \
  "vm.max_map_count $(cat /proc/sys/vm/max_map_count); net.core.somaxconn $(cat /proc/sys/net/core/somaxconn)"
echo "physical references: loopback $($REFS loopback 2) MB/s (one TCP stream), $($REFS fsyncrate "$DIR" 2) fsyncs/s (4 KiB append + fdatasync)"
echo
echo "### start and shutdown (most partitions untouched)"
echo
"$PY" "$ROOT/scripts/lib/bench_scale.py" lifecycle "$BIN" "$DIR" "$LIFE" 2>>"$DIR/clients.log"
echo
echo "### start and shutdown (every partition written)"
echo
"$PY" "$ROOT/scripts/lib/bench_scale.py" written "$BIN" "$DIR" "$WRITTEN" 2>>"$DIR/clients.log"
[[ -n ${ONLY_LIFE:-} ]] && exit 0
echo
echo "### partitions"
echo
"$PY" "$ROOT/scripts/lib/bench_scale.py" partitions "$BIN" "$DIR" "$PARTS" 2>>"$DIR/clients.log"
echo
echo "### connections"
echo
"$PY" "$ROOT/scripts/lib/bench_scale.py" connections "$BIN" "$DIR" "$CONNS" 2>>"$DIR/clients.log"
echo
echo "### consumer groups"
echo
export GROUPS_LOAD="${GROUPS_LOAD:-$ROOT/target/release/examples/groups_load}"
if [[ ! -x $GROUPS_LOAD ]]; then
  (cd "$ROOT" && cargo build --release --example groups_load >>"$DIR/clients.log" 2>&1) ||
    { echo "cannot build examples/groups_load (see $DIR/clients.log)"; exit 1; }
fi
"$PY" "$ROOT/scripts/lib/bench_scale.py" groups "$BIN" "$DIR" "$GROUP_COUNTS" 2>>"$DIR/clients.log"
