# shellcheck shell=bash
# Shared by scripts/ab-cpu.sh and scripts/ab-consume.sh (A/B of two broker binaries):
#
#   ab_setup NAME DEFAULT_ROUNDS USAGE_LINES "$@"
#
# checks that the two arguments are executable binaries (else prints the calling script's
# USAGE_LINES of comments and exits 2), sets BINS, SIZE, COUNT, PARTS, ROUNDS (environment
# overrides, defaults 1024 / 400000 / 4 / DEFAULT_ROUNDS), AB_DIR (default target/NAME) and
# PERF (librdkafka's rdkafka_performance, built once and cached), and defines `median`.
# The caller has set ROOT and sourced lib/broker.sh and lib/librdkafka.sh.

ab_setup() {
  local name=$1 default_rounds=$2 usage=$3
  shift 3
  [[ $# -eq 2 && -x "$1" && -x "$2" ]] || { sed -n "$usage" "$0"; exit 2; }
  BINS=("$1" "$2")
  SIZE=${SIZE:-1024} COUNT=${COUNT:-400000} PARTS=${PARTS:-4} ROUNDS=${ROUNDS:-$default_rounds}
  AB_DIR=${AB_DIR:-$ROOT/target/$name}
  mkdir -p "$AB_DIR"
  local src
  src=$(librdkafka_build perf) || exit 2
  PERF="$src/examples/rdkafka_performance"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
