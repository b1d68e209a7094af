#!/usr/bin/env bash
# What client quotas cost on the hot path: produce and consume throughput against a broker
# whose quotas apply to every client but sit far above any rate reached (producer_byte_rate,
# consumer_byte_rate and request_percentage on /clients/<default>: every request is measured,
# none is throttled), against a broker without quotas (nothing is measured: one atomic load),
# in the same run, runs alternating so the shared machine's drift hits both alike. Figures
# only: nothing here passes or fails.
#
#   scripts/bench-quota.sh           3 runs per figure, 200000 x 1 KiB records
#   scripts/bench-quota.sh --quick   1 run, 1/10 of the records (a smoke test)
#   scripts/bench-quota.sh --runs N --count N --size BYTES
#   scripts/bench.sh --quota [...]   the same
#
# Load generator: librdkafka 2.12.1's rdkafka_performance (scripts/lib/librdkafka.sh), acks=1,
# linger.ms=5, one partition, PLAINTEXT.
#
# Environment: SLUICE_BIN (default target/release/sluice, built if missing), BENCH_DIR
# (default target/bench-quota).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"
# shellcheck source=lib/perf_ab.sh
source "$ROOT/scripts/lib/perf_ab.sh"

RUNS=3 COUNT=200000 SIZE=1024
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) RUNS=1 COUNT=20000 ;;
    --runs) RUNS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --size) SIZE=$2; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench-quota}"
rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
LOG="$BENCH_DIR/perf.log"
sluice_resolve_bin || exit 2
SRC=$(librdkafka_build perf) || exit 2
PERF="$SRC/examples/rdkafka_performance"
log() { printf '[bench-quota %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

declare -A PORT
for name in open quota; do
  PORT[$name]=$(free_port)
  broker_start "$BENCH_DIR/$name" "${PORT[$name]}" "$BENCH_DIR/$name.log" --set num.partitions=1 \
    --set sluice.http.listen= --set sluice.schema.registry.listen= || exit 1
  PIDS+=("$BROKER_PID")
done
# 10 GB/s and 100 threads' worth: far above what two cores reach, so nobody is throttled.
"$SLUICE_BIN" quota -b "127.0.0.1:${PORT[quota]}" alter --client-defaults \
  --add-config producer_byte_rate=10000000000,consumer_byte_rate=10000000000,request_percentage=10000 \
  >/dev/null || exit 1

conf() { echo "-b 127.0.0.1:${PORT[$1]}"; }
perf_runs "$RUNS" open quota

printf '\n| broker | produce MB/s (median of %s) | consume MB/s (median of %s) |\n|---|---|---|\n' "$RUNS" "$RUNS"
for b in open quota; do
  read -r p c <<<"$(perf_medians "$b")"
  label=$([[ $b == open ]] && echo "no quotas" || echo "quotas on every client, far above the rate")
  printf '| %s | %s | %s |\n' "$label" "$p" "$c"
done
printf '\n%s x %s B records over PLAINTEXT, acks=1, one partition, rdkafka_performance (librdkafka 2.12.1), %s CPUs.\n' \
  "$COUNT" "$SIZE" "$(nproc)"
