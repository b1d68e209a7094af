#!/usr/bin/env bash
# Throughput, latency, start-up and memory figures for Sluice, with the machine's physical
# references measured in the same run. Figures only: nothing here passes or fails.
#
#   scripts/bench.sh                 default run: 5 runs per figure, 1 GiB crash log (about 8 minutes on 2 cores)
#   scripts/bench.sh --full          start-up after kill -9 with a 4 GiB log, 7 runs per figure
#   scripts/bench.sh --quick         1 run each, 1/10 of the record counts (a smoke test)
#   scripts/bench.sh --runs N --crash-gib G
#   scripts/bench.sh --scrape-only   only the cost of /metrics scraped every second (scripts/lib/bench_scrape.sh)
#   scripts/bench.sh --otlp-only     only the cost of exporting request spans with OTLP to a local receiver
#                                    (scripts/lib/bench_otlp.sh), against the same load not exported
#   scripts/bench.sh --latency-only  only where produce latency goes (scripts/lib/bench_latency.sh): client latency
#                                    beside the broker's request stages and fsyncs, and the disk's own paced fsync
#   scripts/bench.sh --schema-only   only the cost of broker-side schema id validation (scripts/lib/bench_schema.py:
#                                    200000 x 100 B framed records per run, validation off against on, confluent-kafka
#                                    from .venv; the broker's CPU per record isolates the check)
#   scripts/bench.sh --scale [...]   partitions and connections at scale (scripts/bench-scale.sh, its own options)
#   scripts/bench.sh --quota [...]   the cost of client quotas on produce and consume (scripts/bench-quota.sh)
#
# Load generator: librdkafka 2.12.1's examples/rdkafka_performance, built from the Rust crate
# rdkafka-sys (scripts/lib/librdkafka.sh; cached in ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat).
# Producer settings are rdkafka_performance's own (batches up to 10000 records or 1 MB) with
# linger.ms=5 (librdkafka's default; rdkafka_performance's 1000 ms would dominate short runs) and
# enable.idempotence=false. Latency runs use linger.ms=0 at a fixed rate, one producer connection.
# Each figure is the median of the runs; a fresh broker (fresh data dir under $BENCH_DIR) serves
# each configuration. The "in memory" rows run `sluice serve --in-memory` (1 partition, 100 B
# records) for comparison with the disk rows of the same shape.
#
# Environment:
#   SLUICE_BIN   broker binary (default target/release/sluice, built if missing)
#   BENCH_DIR    where brokers keep their data (default target/bench; its disk is the one measured)
#   BENCH_OUT    where the table is written (default $BENCH_DIR/results-<time>.md)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"
REFS="python3 $ROOT/scripts/lib/bench_refs.py"
# shellcheck source=lib/bench_scrape.sh
source "$ROOT/scripts/lib/bench_scrape.sh"
# shellcheck source=lib/bench_otlp.sh
source "$ROOT/scripts/lib/bench_otlp.sh"
# shellcheck source=lib/bench_latency.sh
source "$ROOT/scripts/lib/bench_latency.sh"

RUNS=5 CRASH_GIB=1 SCALE=1 SCRAPE_ONLY=0 SCHEMA_ONLY=0 OTLP_ONLY=0 LATENCY_ONLY=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --full) RUNS=7 CRASH_GIB=4 ;;
    --quick) RUNS=1 SCALE=10 CRASH_GIB=1 ;;
    --runs) RUNS=$2; shift ;;
    --crash-gib) CRASH_GIB=$2; shift ;;
    --scrape-only) SCRAPE_ONLY=1 ;;
    --otlp-only) OTLP_ONLY=1 ;;
    --schema-only) SCHEMA_ONLY=1 ;;
    --latency-only) LATENCY_ONLY=1 ;;
    --scale) shift; exec "$(dirname "${BASH_SOURCE[0]}")/bench-scale.sh" "$@" ;;
    --quota) shift; exec "$(dirname "${BASH_SOURCE[0]}")/bench-quota.sh" "$@" ;;
    -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench}"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
OUTF="${BENCH_OUT:-$BENCH_DIR/results-$(date +%Y%m%d-%H%M%S).md}"
LOGDIR="$BENCH_DIR/logs"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"

sluice_resolve_bin || exit 2
SRC=$(librdkafka_build perf) || exit 2
PERF="$SRC/examples/rdkafka_performance"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

cleanup() { broker_stop; }
trap cleanup EXIT
trap 'echo interrupted; exit 130' INT TERM

# fresh_broker NAME PARTITIONS [memory] : a fresh broker (fresh data dir, or --in-memory); sets PORT
fresh_broker() {
  broker_stop
  local d="$BENCH_DIR/data-$1"
  rm -rf "$d"
  [[ "${3:-}" == memory ]] && d=-
  PORT=$(free_port)
  broker_start "$d" "$PORT" "$LOGDIR/broker-$1.log" --set auto.create.topics.enable=true \
    --set "num.partitions=$2" || exit 1
}

# --- machine --------------------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
DEV=$(df -P "$BENCH_DIR" | awk 'NR==2 {print $1}')
FSTYPE=$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $2}')
BLK=$(basename "$DEV")
ROT=$(cat "/sys/block/$BLK/queue/rotational" 2>/dev/null || echo "?")
log "machine: $(nproc) CPUs ($CPU), $MEM, data dir on $DEV ($FSTYPE, rotational=$ROT)"

# --- physical references ----------------------------------------------------------------------------
if [[ $SCRAPE_ONLY == 0 && $SCHEMA_ONLY == 0 && $OTLP_ONLY == 0 && $LATENCY_ONLY == 0 ]]; then
  log "physical references: loopback TCP, sequential write + fsync, fsync rate"
  LOOP=$(for _ in $(seq "$RUNS"); do $REFS loopback 2; done | median)
  DISK=$(for _ in $(seq "$RUNS"); do $REFS diskwrite "$BENCH_DIR" 512; done | median)
  FSYNCS=$(for _ in $(seq "$RUNS"); do $REFS fsyncrate "$BENCH_DIR" 2; done | median)
  log "loopback ${LOOP} MB/s, disk ${DISK} MB/s, ${FSYNCS} fsyncs/s"
fi

# --- produce / consume throughput -------------------------------------------------------------------
# perf_produce TOPIC SIZE COUNT ACKS : prints "msgs/s MB/s"
perf_produce() {
  local out
  out=$("$PERF" -P -t "$1" -b "127.0.0.1:$PORT" -s "$2" -c "$3" -a "$4" -q \
    -X enable.idempotence=false -X linger.ms=5 2>&1 | tee -a "$LOGDIR/perf.log" | grep 'messages produced' | tail -1)
  # "% 200000 messages produced (20000000 bytes), 200000 delivered (...) in 1254ms: 159391 msgs/s and 15.94 MB/s, ..."
  local delivered ms bytes
  delivered=$(sed -E 's/.*, ([0-9]+) delivered.*/\1/' <<<"$out")
  bytes=$(sed -E 's/.*\(([0-9]+) bytes\).*/\1/' <<<"$out")
  ms=$(sed -E 's/.* in ([0-9]+)ms:.*/\1/' <<<"$out")
  if [[ -z "$out" || "$delivered" != "$3" ]]; then echo "- -"; log "produce $1: incomplete: $out"; return; fi
  awk -v n="$3" -v b="$bytes" -v ms="$ms" 'BEGIN {printf "%.0f %.1f\n", n/(ms/1000), b/(ms/1000)/1e6}'
}
# perf_consume TOPIC COUNT PARTITIONS : prints "msgs/s MB/s"
perf_consume() {
  local parts=() i out
  for ((i = 0; i < $3; i++)); do parts+=(-p "$i"); done
  out=$(timeout 300 "$PERF" -C -t "$1" "${parts[@]}" -b "127.0.0.1:$PORT" -o beginning -c "$2" -q 2>&1 \
    | tee -a "$LOGDIR/perf.log" | grep 'consumed in' | tail -1)
  # "% 200000 messages (20000000 bytes) consumed in 52ms: 3817158 msgs/s (381.72 MB/s)"
  if [[ -z "$out" ]]; then echo "- -"; log "consume $1: no result"; return; fi
  local n bytes ms
  n=$(sed -E 's/^% ([0-9]+) messages.*/\1/' <<<"$out")
  bytes=$(sed -E 's/.*\(([0-9]+) bytes\).*/\1/' <<<"$out")
  ms=$(sed -E 's/.* in ([0-9]+)ms:.*/\1/' <<<"$out")
  [[ "$n" == "$2" ]] || log "consume $1: got $n of $2"
  awk -v n="$n" -v b="$bytes" -v ms="$ms" 'BEGIN {if (ms < 1) ms = 1; printf "%.0f %.1f\n", n/(ms/1000), b/(ms/1000)/1e6}'
}

if [[ $LATENCY_ONLY == 1 ]]; then
  bench_latency
  bench_latency_table | tee "$OUTF"
  exit 0
fi

if [[ $OTLP_ONLY == 1 ]]; then
  bench_otlp
  bench_otlp_table
  exit 0
fi

if [[ $SCRAPE_ONLY == 1 ]]; then
  bench_scrape
  bench_scrape_table
  exit 0
fi

# --- the cost of broker-side schema id validation ----------------------------------------------------
# One broker with the schema registry; bench_schema.py alternates topics with
# confluent.value.schema.validation off and on. Sets SROWS.
declare -a SROWS=()
bench_schema() {
  local py="$ROOT/.venv/bin/python" sr_port count=$((200000 / SCALE)) out mode
  [[ -x "$py" ]] || py=python3
  broker_stop
  rm -rf "$BENCH_DIR/data-schema"
  PORT=$(free_port) sr_port=$(free_port)
  broker_start "$BENCH_DIR/data-schema" "$PORT" "$LOGDIR/broker-schema.log" \
    --set "sluice.schema.registry.listen=127.0.0.1:$sr_port" || return 1
  local i; for ((i = 0; i < 200; i++)); do port_open "$sr_port" && break; sleep 0.05; done
  log "schema id validation: ${count} x 100 B framed records, off against on, $RUNS runs each"
  out=$("$py" "$ROOT/scripts/lib/bench_schema.py" "127.0.0.1:$PORT" "http://127.0.0.1:$sr_port" "$BROKER_PID" \
    "$count" "$RUNS" 2>>"$LOGDIR/bench-schema.log")
  broker_stop
  rm -rf "$BENCH_DIR/data-schema"
  for mode in off on; do
    SROWS+=("| confluent.value.schema.validation=$( [[ $mode == on ]] && echo true || echo false) | ${count} x 100 B | \
$(awk -v m=$mode '$1==m {print $2}' <<<"$out" | median) | $(awk -v m=$mode '$1==m {print $3}' <<<"$out" | median) | \
$(awk -v m=$mode '$1==m {printf "%s%s", sep, $3; sep="/"}' <<<"$out") |")
  done
}
bench_schema_table() {
  echo "| produce (confluent-kafka, acks=1, 1 partition) | records | records/s | broker CPU µs/record | runs (µs/record) |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${SROWS[@]}"
}
if [[ $SCHEMA_ONLY == 1 ]]; then
  bench_schema
  bench_schema_table
  exit 0
fi

declare -a PROWS=() CROWS=()
PEAK_RSS=0
for spec in "100 1000000" "1024 200000"; do
  read -r size count <<<"$spec"
  count=$((count / SCALE))
  for parts in 1 4; do
    fresh_broker "p$parts-s$size" "$parts"
    for acks in 1 all; do
      a=$acks; [[ $acks == all ]] && a=-1
      log "produce ${count} x ${size} B, acks=$acks, $parts partition(s), $RUNS runs"
      rs=() ; ms=()
      for r in $(seq "$RUNS"); do
        read -r mps mbs < <(perf_produce "t-$size-$acks-$r" "$size" "$count" "$a")
        rs+=("$mps"); ms+=("$mbs")
      done
      rss_now=$($REFS rss "$BROKER_PID" | awk '{print $2}')
      PEAK_RSS=$(awk -v a="$PEAK_RSS" -v b="$rss_now" 'BEGIN {print (b > a) ? b : a}')
      mps=$(printf '%s\n' "${rs[@]}" | grep -v '^-$' | median)
      mbs=$(printf '%s\n' "${ms[@]}" | grep -v '^-$' | median)
      # "of disk" only for acks=all: acks=1 is answered from the page cache
      ofdisk="-"
      [[ $acks == all ]] && ofdisk=$(awk -v m="$mbs" -v l="$DISK" 'BEGIN {if (m=="-") print "-"; else printf "%.0f%%", 100*m/l}')
      PROWS+=("| produce | ${count} x ${size} B | acks=$acks | $parts | $mps | $mbs | $(awk -v m="$mbs" -v l="$LOOP" 'BEGIN {if (m=="-") print "-"; else printf "%.0f%%", 100*m/l}') | $ofdisk | $(IFS=/; echo "${ms[*]}") |")
    done
    # replay: read one of the acks=1 topics back from offset 0, RUNS times
    log "consume ${count} x ${size} B from offset 0, $parts partition(s), $RUNS runs"
    rs=() ; ms=()
    for r in $(seq "$RUNS"); do
      read -r mps mbs < <(perf_consume "t-$size-1-1" "$count" "$parts")
      rs+=("$mps"); ms+=("$mbs")
    done
    mps=$(printf '%s\n' "${rs[@]}" | grep -v '^-$' | median)
    mbs=$(printf '%s\n' "${ms[@]}" | grep -v '^-$' | median)
    CROWS+=("| consume (replay from 0) | ${count} x ${size} B | - | $parts | $mps | $mbs | $(awk -v m="$mbs" -v l="$LOOP" 'BEGIN {if (m=="-") print "-"; else printf "%.0f%%", 100*m/l}') | - | $(IFS=/; echo "${ms[*]}") |")
  done
done

# --- the same, in memory (`sluice serve --in-memory`), against the disk rows above ---------------------
# A fresh broker per run: every record stays in RAM until the broker stops.
count=$((1000000 / SCALE))
for acks in 1 all; do
  a=$acks; [[ $acks == all ]] && a=-1
  log "in memory: produce ${count} x 100 B, acks=$acks, 1 partition, $RUNS runs"
  rs=() ; ms=()
  for r in $(seq "$RUNS"); do
    fresh_broker "memory" 1 memory
    read -r mps mbs < <(perf_produce "t-100-$acks" 100 "$count" "$a")
    rs+=("$mps"); ms+=("$mbs")
  done
  mps=$(printf '%s\n' "${rs[@]}" | grep -v '^-$' | median)
  mbs=$(printf '%s\n' "${ms[@]}" | grep -v '^-$' | median)
  PROWS+=("| produce, in memory | ${count} x 100 B | acks=$acks | 1 | $mps | $mbs | $(awk -v m="$mbs" -v l="$LOOP" 'BEGIN {if (m=="-") print "-"; else printf "%.0f%%", 100*m/l}') | - | $(IFS=/; echo "${ms[*]}") |")
done
# the broker of the last run holds t-100-all: read it back
log "in memory: consume ${count} x 100 B from offset 0, 1 partition, $RUNS runs"
rs=() ; ms=()
for r in $(seq "$RUNS"); do
  read -r mps mbs < <(perf_consume "t-100-all" "$count" 1)
  rs+=("$mps"); ms+=("$mbs")
done
mps=$(printf '%s\n' "${rs[@]}" | grep -v '^-$' | median)
mbs=$(printf '%s\n' "${ms[@]}" | grep -v '^-$' | median)
CROWS+=("| consume (replay from 0), in memory | ${count} x 100 B | - | 1 | $mps | $mbs | $(awk -v m="$mbs" -v l="$LOOP" 'BEGIN {if (m=="-") print "-"; else printf "%.0f%%", 100*m/l}') | - | $(IFS=/; echo "${ms[*]}") |")
broker_stop

# --- latency at a fixed rate ---------------------------------------------------------------------------
LAT_SECONDS=$((10 / SCALE < 2 ? 2 : 10 / SCALE))
declare -a LROWS=()
fresh_broker latency 1
for spec in "1 1000" "all 1000" "1 5000" "all 5000"; do
  read -r acks LAT_RATE <<<"$spec"
  LAT_COUNT=$((LAT_RATE * LAT_SECONDS))
  a=$acks; [[ $acks == all ]] && a=-1
  log "latency: ${LAT_COUNT} x 100 B at ${LAT_RATE}/s, acks=$acks, linger.ms=0, $RUNS runs"
  p50s=() p99s=() p999s=()
  for r in $(seq "$RUNS"); do
    f="$LOGDIR/latency-$acks-$r.txt"
    # warm-up: create the topic and its segment first, so the measured run sees neither
    "$PERF" -P -t "lat-$acks-$LAT_RATE-$r" -b "127.0.0.1:$PORT" -s 100 -c 100 -a "$a" -q \
      -X enable.idempotence=false >>"$LOGDIR/perf.log" 2>&1
    "$PERF" -P -t "lat-$acks-$LAT_RATE-$r" -b "127.0.0.1:$PORT" -s 100 -c "$LAT_COUNT" -a "$a" -r "$LAT_RATE" -l -A "$f" -q \
      -X enable.idempotence=false -X linger.ms=0 >>"$LOGDIR/perf.log" 2>&1
    # leave out the first half second of records (the client's connection set-up)
    read -r p50 p99 p999 < <($REFS percentiles "$f" $((LAT_RATE / 2)))
    p50s+=("$p50"); p99s+=("$p99"); p999s+=("$p999")
  done
  LROWS+=("| acks=$acks | $LAT_RATE/s x 100 B | $(printf '%s\n' "${p50s[@]}" | median) | $(printf '%s\n' "${p99s[@]}" | median) | $(printf '%s\n' "${p999s[@]}" | median) |")
done
IDLE_RSS_AFTER=$($REFS rss "$BROKER_PID" | awk '{print $1}')
broker_stop

# --- the cost of /metrics ------------------------------------------------------------------------------
bench_scrape
bench_otlp
bench_schema

# --- start-up and memory ---------------------------------------------------------------------------------
# timed_start NAME DATADIR : sets STARTUP_MS (spawn -> port accepts, "-" on failure), PORT and
# BROKER_PID; the broker keeps running. (No $(...) here: a subshell would lose PORT and BROKER_PID.)
timed_start() {
  PORT=$(free_port)
  STARTUP_MS="-" BROKER_PID=""
  $REFS startup "$PORT" "$LOGDIR/broker-$1.log" -- "$SLUICE_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$2" \
    --set auto.create.topics.enable=true --set num.partitions=1 >"$LOGDIR/startup.out" || return 1
  local r
  r=$(cat "$LOGDIR/startup.out")
  BROKER_PID=${r#* }
  STARTUP_MS=${r%% *}
}
stop_pid() {  # the broker started by timed_start is not our child: poll instead of wait
  local sig=$1 i
  [[ -n "$BROKER_PID" ]] || return 0
  kill "-$sig" "$BROKER_PID" 2>/dev/null
  for ((i = 0; i < 400; i++)); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.025; done
  kill -KILL "$BROKER_PID" 2>/dev/null; BROKER_PID=""
}

log "start-up on an empty data dir, $((RUNS + 2)) runs; idle RSS"
EMPTY_MS=() IDLE_RSS=()
for r in $(seq $((RUNS + 2))); do
  d="$BENCH_DIR/data-empty"; rm -rf "$d"; mkdir -p "$d"
  timed_start empty "$d"
  EMPTY_MS+=("$STARTUP_MS")
  sleep 1
  IDLE_RSS+=("$($REFS rss "$BROKER_PID" | awk '{print $1}')")
  stop_pid TERM
done

log "start-up after kill -9 with ${CRASH_GIB} GiB of 1 KiB records (acks=1), $RUNS crashes"
d="$BENCH_DIR/data-crash"; rm -rf "$d"; mkdir -p "$d"
timed_start crash-fill "$d" || exit 1
n_total=$((CRASH_GIB * 1024 * 1024))   # 1 KiB records per GiB
chunk=$((n_total / 4))
for i in 1 2 3 4; do
  "$PERF" -P -t crash -b "127.0.0.1:$PORT" -s 1024 -c "$chunk" -a 1 -q -X enable.idempotence=false >>"$LOGDIR/perf.log" 2>&1
done
stop_pid KILL
CRASH_SIZE=$(du -sh "$d" | cut -f1)
CRASH_MS=() CRASH_LOGGED=()
for r in $(seq "$RUNS"); do
  timed_start crash "$d"
  CRASH_MS+=("$STARTUP_MS")
  CRASH_LOGGED+=("$(grep -o 'startup_ms=[0-9]*' "$LOGDIR/broker-crash.log" | tail -1 | cut -d= -f2)")
  # write a little more, then crash again right away (inside the flush window)
  "$PERF" -P -t crash -b "127.0.0.1:$PORT" -s 1024 -c 100000 -a 1 -q -X enable.idempotence=false >>"$LOGDIR/perf.log" 2>&1
  stop_pid KILL
done
rm -rf "$BENCH_DIR"/data-*

# --- table ---------------------------------------------------------------------------------------------------
{
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC'): $(cd "$ROOT" && basename "$SLUICE_BIN") ($(stat -c %y "$SLUICE_BIN" | cut -d. -f1)), $RUNS runs per figure (median)"
  echo
  echo "Machine: $(nproc) CPUs ($CPU), $MEM RAM, data dir on $DEV ($FSTYPE, rotational=$ROT). Client and broker share the CPUs."
  echo
  echo "| physical reference | value |"
  echo "|---|---|"
  echo "| loopback TCP, one stream (1 MiB sends) | $LOOP MB/s |"
  echo "| sequential write + fsync, data dir's disk (512 MiB) | $DISK MB/s |"
  echo "| 4 KiB append + fdatasync | $FSYNCS fsyncs/s |"
  echo
  echo "| test | records | acks | partitions | records/s | MB/s | of loopback | of disk | runs (MB/s) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${PROWS[@]}" "${CROWS[@]}"
  echo
  echo "| produce latency (linger.ms=0, 1 partition) | rate | p50 ms | p99 ms | p99.9 ms |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${LROWS[@]}"
  echo
  echo "| start-up and memory | value | runs |"
  echo "|---|---|---|"
  echo "| start-up, empty data dir (spawn -> port accepts) | $(printf '%s\n' "${EMPTY_MS[@]}" | grep -v '^-$' | median) ms | $(IFS=/; echo "${EMPTY_MS[*]}") |"
  echo "| start-up after kill -9, $CRASH_SIZE data dir | $(printf '%s\n' "${CRASH_MS[@]}" | grep -v '^-$' | median) ms | $(IFS=/; echo "${CRASH_MS[*]}") (broker's own startup_ms: $(IFS=/; echo "${CRASH_LOGGED[*]}")) |"
  echo "| idle RSS (1 s after start, empty) | $(printf '%s\n' "${IDLE_RSS[@]}" | median) MiB | $(IFS=/; echo "${IDLE_RSS[*]}") |"
  echo "| RSS after the latency runs (idle, warm) | $IDLE_RSS_AFTER MiB | |"
  echo "| peak RSS under produce load (VmHWM) | $PEAK_RSS MiB | |"
  echo
  bench_scrape_table
  echo
  bench_otlp_table
  echo
  bench_schema_table
} >"$OUTF"
echo
cat "$OUTF"
echo
echo "table written to $OUTF; logs in $LOGDIR"
