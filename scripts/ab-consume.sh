#!/usr/bin/env bash
# Replay throughput of two broker binaries side by side: both brokers run at once, hold the
# same data (produced once into each), and full replays from offset 0 alternate between them,
# so both see the same page cache and the same moments of machine noise. Figures only.
#
#   scripts/ab-consume.sh OLD_BINARY NEW_BINARY
#
# Environment: SIZE (default 1024), COUNT (default 400000), PARTS (4), ROUNDS (10),
# AB_DIR (default target/ab-consume).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"
# shellcheck source=lib/ab.sh
source "$ROOT/scripts/lib/ab.sh"

ab_setup ab-consume 10 '2,10p' "$@"

PORTS=() PIDS=()
stop_all() { for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done; }
trap stop_all EXIT

for k in 0 1; do
  SLUICE_BIN=${BINS[$k]}
  d="$AB_DIR/data-$k"
  rm -rf "$d"
  PORT=$(free_port)
  broker_start "$d" "$PORT" "$AB_DIR/broker-$k.log" --set auto.create.topics.enable=true \
    --set "num.partitions=$PARTS" || exit 1
  PORTS[$k]=$PORT
  PIDS[$k]=$BROKER_PID
  "$PERF" -P -t t -b "127.0.0.1:$PORT" -s "$SIZE" -c "$COUNT" -a 1 -q \
    -X enable.idempotence=false -X linger.ms=5 >>"$AB_DIR/perf.log" 2>&1
done
parts=()
for ((i = 0; i < PARTS; i++)); do parts+=(-p "$i"); done
declare -A RUNS
echo "# replays of $COUNT x $SIZE B from offset 0, $PARTS partitions, $ROUNDS rounds; MB/s"
for r in $(seq "$ROUNDS"); do
  line="round $r"
  for k in 0 1; do
    mbs=$(timeout 300 "$PERF" -C -t t "${parts[@]}" -b "127.0.0.1:${PORTS[$k]}" -o beginning \
      -c "$COUNT" -q 2>&1 | tee -a "$AB_DIR/perf.log" | grep 'consumed in' | tail -1 |
      sed -E 's/.*\(([0-9.]+) MB\/s\).*/\1/')
    RUNS[$k]+="$mbs "
    line+="  $(basename "${BINS[$k]}") ($k): $mbs"
  done
  echo "$line"
done
for k in 0 1; do
  echo "median ${BINS[$k]}: $(tr ' ' '\n' <<<"${RUNS[$k]}" | grep . | median) MB/s"
done
