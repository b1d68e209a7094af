#!/usr/bin/env bash
# Runs Sluice's libFuzzer targets (fuzz/) for a bounded time each; not part of CI.
#
#   scripts/fuzz.sh                     every target for 60 s
#   scripts/fuzz.sh --seconds 600       every target for 10 min
#   scripts/fuzz.sh --targets sasl      one target (comma-separated list)
#   scripts/fuzz.sh --seeds             rewrite the seed corpus in fuzz/corpus/ only
#
# Needs the nightly toolchain and cargo-fuzz; both are installed when missing. Inputs
# that grow coverage go to fuzz/work/<target>/ (not committed; it starts from the
# committed seeds in fuzz/corpus/<target>/). A crash is copied into
# fuzz/regressions/<target>/, which `cargo test` runs through the same entry on every
# CI run (src/fuzzing.rs), so a finding stays a failing test until it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets="connection,record_batch,sasl"
seeds_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --seeds) seeds_only=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$seeds_only" = 1 ]; then
  cargo test --lib fuzzing::tests::write_seed_corpus -- --ignored --quiet
  echo "seed corpus written to fuzz/corpus/"
  exit 0
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

summary=()
IFS=, read -ra list <<< "$targets"
for t in "${list[@]}"; do
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  before=$(ls "fuzz/artifacts/$t" | wc -l)
  log="fuzz/work/$t.log"
  echo "== $t: $seconds s"
  # -timeout: one input may not take 10 s (a hang is a finding); RSS bounded at 4 GiB.
  set +e
  (cd fuzz && cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1) \
      > "$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(( $(ls "fuzz/artifacts/$t" | wc -l) - before ))
  if [ "$crashes" -gt 0 ]; then
    mkdir -p "fuzz/regressions/$t"
    for f in $(ls -t "fuzz/artifacts/$t" | head -n "$crashes"); do
      cp "fuzz/artifacts/$t/$f" "fuzz/regressions/$t/$f"
    done
  fi
  summary+=("$t: ${runs:-?} inputs in $seconds s, $crashes new finding(s), exit $rc (log: $log)")
done
echo
printf '%s\n' "${summary[@]}"
