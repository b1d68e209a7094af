#!/usr/bin/env bash
# Produce and consume throughput over TLS (an SSL listener) against PLAINTEXT, measured in
# the same run on the same broker: one broker with both listeners, runs alternating between
# them so the shared machine's drift hits both alike. Also SASL_SSL/SCRAM-SHA-512 (TLS plus
# one authentication per connection, so it should match SSL). Figures only: nothing here
# passes or fails.
#
#   scripts/bench-tls.sh             3 runs per figure, 200000 x 1 KiB records (about 3 minutes on 2 cores)
#   scripts/bench-tls.sh --quick     1 run, 1/10 of the records (a smoke test)
#   scripts/bench-tls.sh --runs N --count N --size BYTES
#
# Load generator: librdkafka 2.12.1's rdkafka_performance (scripts/lib/librdkafka.sh), acks=1,
# linger.ms=5, one partition. Certificates are generated for the run with openssl.
#
# Environment: SLUICE_BIN (default target/release/sluice, built if missing), BENCH_DIR
# (default target/bench-tls).
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
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench-tls}"
rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
LOG="$BENCH_DIR/perf.log"
sluice_resolve_bin || exit 2
SRC=$(librdkafka_build perf) || exit 2
PERF="$SRC/examples/rdkafka_performance"
log() { printf '[bench-tls %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() { broker_stop; }
trap cleanup EXIT

# --- certificates and the broker --------------------------------------------------------------------
C="$BENCH_DIR/certs"; mkdir -p "$C"
(
  cd "$C" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca
  echo "subjectAltName=IP:127.0.0.1" > ext
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext
  cat server.key server.pem > keystore.pem
) >"$BENCH_DIR/openssl.log" 2>&1 || { log "openssl failed: see $BENCH_DIR/openssl.log"; exit 1; }

PT=$(free_port) SSLP=$(free_port) SASLP=$(free_port)
# broker_start passes --listen; this broker needs named listeners, so it is started here.
"$SLUICE_BIN" serve --data-dir "$BENCH_DIR/data" \
  --set "listeners=PLAINTEXT://127.0.0.1:$PT,SSL://127.0.0.1:$SSLP,SASL_SSL://127.0.0.1:$SASLP" \
  --set "ssl.keystore.location=$C/keystore.pem" --set num.partitions=1 >"$BENCH_DIR/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 200); do port_open "$PT" && break; sleep 0.05; done
port_open "$PT" || { log "broker did not start: $(tail -3 "$BENCH_DIR/broker.log")"; exit 1; }
"$SLUICE_BIN" user add bench --password bench-pw -m SCRAM-SHA-512 -b "127.0.0.1:$PT" >/dev/null || exit 1

# conf NAME : the rdkafka_performance flags of a listener
conf() {
  case $1 in
    PLAINTEXT) echo "-b 127.0.0.1:$PT" ;;
    SSL) echo "-b 127.0.0.1:$SSLP -X security.protocol=SSL -X ssl.ca.location=$C/ca.pem" ;;
    SASL_SSL) echo "-b 127.0.0.1:$SASLP -X security.protocol=SASL_SSL -X ssl.ca.location=$C/ca.pem -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=bench -X sasl.password=bench-pw" ;;
  esac
}

perf_runs "$RUNS" PLAINTEXT SSL SASL_SSL

printf '\n| listener | produce MB/s (median of %s) | consume MB/s (median of %s) |\n|---|---|---|\n' "$RUNS" "$RUNS"
for l in PLAINTEXT SSL SASL_SSL; do
  read -r p c <<<"$(perf_medians "$l")"
  printf '| %s | %s | %s |\n' "$l" "$p" "$c"
done
printf '\n%s x %s B records, acks=1, one partition, rdkafka_performance (librdkafka 2.12.1), %s CPUs.\n' \
  "$COUNT" "$SIZE" "$(nproc)"
