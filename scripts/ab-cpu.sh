#!/usr/bin/env bash
# A/B of two broker binaries by the broker's own CPU time, for refactors whose cost would
# drown in the noise of throughput figures on a shared 2-core machine. Figures only: nothing
# here passes or fails.
#
#   scripts/ab-cpu.sh OLD_BINARY NEW_BINARY
#
# For each round and each binary (alternating, fresh data dir each time): start the broker,
# produce COUNT x SIZE B with librdkafka's rdkafka_performance (acks=1, linger.ms=5, not
# idempotent), then consume it all from offset 0 three times. Prints the broker's CPU time
# (user + system, from /proc/PID/stat) for the produce and for the three consumes, and the
# median of each per binary. CPU time barely moves with scheduling noise, unlike MB/s.
#
# Environment: SIZE (default 1024), COUNT (default 400000), PARTS (4), ROUNDS (3),
# AB_DIR (where data dirs and logs go, default target/ab-cpu).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"
# shellcheck source=lib/ab.sh
source "$ROOT/scripts/lib/ab.sh"

ab_setup ab-cpu 3 '2,14p' "$@"
TICKS=$(getconf CLK_TCK)

trap broker_stop EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

parts=()
for ((i = 0; i < PARTS; i++)); do parts+=(-p "$i"); done
declare -A PRODUCE CONSUME
echo "# $COUNT x $SIZE B, $PARTS partitions, $ROUNDS rounds; broker CPU seconds (user+system)"
for r in $(seq "$ROUNDS"); do
  for k in 0 1; do
    SLUICE_BIN=${BINS[$k]}
    d="$AB_DIR/data-$k"
    rm -rf "$d"
    PORT=$(free_port)
    broker_start "$d" "$PORT" "$AB_DIR/broker-$k.log" --set auto.create.topics.enable=true \
      --set "num.partitions=$PARTS" || exit 1
    c0=$(cpu_ticks "$BROKER_PID")
    "$PERF" -P -t t -b "127.0.0.1:$PORT" -s "$SIZE" -c "$COUNT" -a 1 -q \
      -X enable.idempotence=false -X linger.ms=5 >>"$AB_DIR/perf.log" 2>&1
    c1=$(cpu_ticks "$BROKER_PID")
    for _ in 1 2 3; do
      timeout 300 "$PERF" -C -t t "${parts[@]}" -b "127.0.0.1:$PORT" -o beginning -c "$COUNT" -q \
        >>"$AB_DIR/perf.log" 2>&1
    done
    c2=$(cpu_ticks "$BROKER_PID")
    broker_stop
    p=$(awk -v t=$((c1 - c0)) -v hz="$TICKS" 'BEGIN {printf "%.2f", t / hz}')
    c=$(awk -v t=$((c2 - c1)) -v hz="$TICKS" 'BEGIN {printf "%.2f", t / hz}')
    PRODUCE[$k]+="$p "
    CONSUME[$k]+="$c "
    echo "round $r  $(basename "${BINS[$k]}") ($k): produce ${p} s, 3 consumes ${c} s"
  done
done
for k in 0 1; do
  p=$(tr ' ' '\n' <<<"${PRODUCE[$k]}" | grep . | median)
  c=$(tr ' ' '\n' <<<"${CONSUME[$k]}" | grep . | median)
  echo "median ${BINS[$k]}: produce ${p} s, 3 consumes ${c} s"
done
