#!/usr/bin/env bash
# What the ACL authorizer costs on the hot path: produce and consume throughput over
# SASL_PLAINTEXT (PLAIN) against a broker with authorizer.class.name set and many ACLs,
# measured in the same run against a broker without an authorizer (same listener, same
# user), runs alternating so the shared machine's drift hits both alike. Figures only:
# nothing here passes or fails.
#
#   scripts/bench-acl.sh             3 runs per figure, 200000 x 1 KiB records, 1000 ACLs
#   scripts/bench-acl.sh --quick     1 run, 1/10 of the records (a smoke test)
#   scripts/bench-acl.sh --runs N --count N --size BYTES --acls N
#
# The authorized broker holds --acls ACLs on another topic (each check walks them all: the
# matcher is a scan, see src/security/authorizer.rs) plus the two that let the user in
# (WRITE, READ and CREATE on the prefix `t-`). Load generator: librdkafka 2.12.1's
# rdkafka_performance (scripts/lib/librdkafka.sh), acks=1, linger.ms=5, one partition.
#
# Environment: SLUICE_BIN (default target/release/sluice, built if missing), BENCH_DIR
# (default target/bench-acl).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"
# shellcheck source=lib/perf_ab.sh
source "$ROOT/scripts/lib/perf_ab.sh"

RUNS=3 COUNT=200000 SIZE=1024 ACLS=1000
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) RUNS=1 COUNT=20000 ;;
    --runs) RUNS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --acls) ACLS=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench-acl}"
rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
LOG="$BENCH_DIR/perf.log"
sluice_resolve_bin || exit 2
SRC=$(librdkafka_build perf) || exit 2
PERF="$SRC/examples/rdkafka_performance"
log() { printf '[bench-acl %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

JAAS='org.apache.kafka.common.security.plain.PlainLoginModule required user_bench="bench-pw";'
declare -A SASL ADMIN
# start NAME [--set ...] : a broker with a PLAINTEXT (admin, User:ANONYMOUS) and a SASL_PLAINTEXT listener
start() {
  local name=$1 pt sp; shift
  pt=$(free_port) sp=$(free_port)
  # broker_start passes --listen; these brokers need named listeners, so they are started here.
  "$SLUICE_BIN" serve --data-dir "$BENCH_DIR/$name" \
    --set "listeners=PLAINTEXT://127.0.0.1:$pt,SASL_PLAINTEXT://127.0.0.1:$sp" \
    --set "listener.name.sasl_plaintext.plain.sasl.jaas.config=$JAAS" --set num.partitions=1 \
    --set sluice.http.listen= --set sluice.schema.registry.listen= \
    "$@" >"$BENCH_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do port_open "$sp" && break; sleep 0.05; done
  port_open "$sp" || { log "$name did not start: $(tail -3 "$BENCH_DIR/$name.log")"; exit 1; }
  SASL[$name]=$sp ADMIN[$name]=$pt
}
start open
start acl --set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
  --set super.users=User:ANONYMOUS
# One CreateAcls request with all of them.
principals=()
for i in $(seq "$ACLS"); do principals+=(--allow-principal "User:other-$i"); done
"$SLUICE_BIN" acl add "${principals[@]}" --operation READ --topic elsewhere \
  -b "127.0.0.1:${ADMIN[acl]}" >/dev/null || exit 1
"$SLUICE_BIN" acl add --allow-principal User:bench --operation WRITE --operation READ --operation CREATE \
  --topic t- --resource-pattern-type prefixed -b "127.0.0.1:${ADMIN[acl]}" >/dev/null || exit 1

conf() { echo "-b 127.0.0.1:${SASL[$1]} -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN -X sasl.username=bench -X sasl.password=bench-pw"; }

perf_runs "$RUNS" open acl

printf '\n| broker | produce MB/s (median of %s) | consume MB/s (median of %s) |\n|---|---|---|\n' "$RUNS" "$RUNS"
for b in open acl; do
  read -r p c <<<"$(perf_medians "$b")"
  label=$([[ $b == open ]] && echo "no authorizer" || echo "StandardAuthorizer, $((ACLS + 3)) ACLs")
  printf '| %s | %s | %s |\n' "$label" "$p" "$c"
done
printf '\n%s x %s B records over SASL_PLAINTEXT (PLAIN), acks=1, one partition, rdkafka_performance (librdkafka 2.12.1), %s CPUs.\n' \
  "$COUNT" "$SIZE" "$(nproc)"
