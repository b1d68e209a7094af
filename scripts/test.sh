#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (scripts/install-test-deps.sh),
# builds the broker, runs the Rust tests, then the integration tests against the real binary.
#
#   scripts/test.sh                 everything
#   scripts/test.sh -k kcat         extra arguments go to pytest (here: only the kcat tests)
#
# Environment:
#   SLUICE_BIN=PATH        broker binary for the integration tests (default target/debug/sluice)
#   SLUICE_SKIP_CARGO=1    skip `cargo test --no-run` and `cargo test` (with SLUICE_BIN)
#
# Builds and tests the debug profile (dependencies optimised, the broker's own code with its
# debug assertions and overflow checks): what developers run, and without `--release`'s thin
# LTO of the broker and of every test harness, which was most of CI's time.
# `cargo build --release` stays what users run and what the benchmarks measure.
# Exits non-zero if any step fails; prints a summary at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export SLUICE_BIN="${SLUICE_BIN:-$ROOT/target/debug/sluice}"
SUMMARY=()
FAILED=0
T0=$(date +%s)

step() {  # step NAME CMD... : run CMD, record its outcome and duration
  local name=$1; shift
  local t=$(date +%s) rc=0
  printf '\n===== %s\n' "$name"
  "$@" || rc=$?
  local dt=$(( $(date +%s) - t ))
  if [[ $rc -eq 0 ]]; then
    SUMMARY+=("ok       ${name} (${dt}s)")
  else
    SUMMARY+=("FAILED   ${name} (exit ${rc}, ${dt}s)")
    FAILED=1
  fi
  return $rc
}

summary() {
  printf '\n===== summary (%ss)\n' "$(( $(date +%s) - T0 ))"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ $FAILED -ne 0 ]]; then echo "RESULT: FAILED"; else echo "RESULT: OK"; fi
}

if ! step "install test dependencies" scripts/install-test-deps.sh; then
  summary; exit 1
fi

if [[ "${SLUICE_SKIP_CARGO:-0}" != "1" ]]; then
  # One build for the broker and every test harness: `cargo build` alone would build the
  # dependencies a second time, without the features the dev-dependencies add.
  if ! step "cargo test --no-run (builds the broker too)" cargo test --no-run; then
    summary; exit 1
  fi
  step "cargo test" cargo test || true
else
  SUMMARY+=("skipped  cargo build/test (SLUICE_SKIP_CARGO=1)")
fi

if [[ ! -x "$SLUICE_BIN" ]]; then
  SUMMARY+=("FAILED   broker binary $SLUICE_BIN missing")
  FAILED=1
else
  step "integration tests (pytest, broker $SLUICE_BIN)" \
    .venv/bin/python -m pytest integration-tests -v --timeout 300 --durations=30 "$@" || true
  if [[ $# -eq 0 ]]; then
    # The same produce/fetch, group and transaction tests against `sluice serve --in-memory`.
    step "integration tests in memory (SLUICE_STORAGE=memory)" \
      env SLUICE_STORAGE=memory .venv/bin/python -m pytest -v --timeout 300 \
        integration-tests/test_confluent_kafka.py integration-tests/test_groups_confluent.py \
        integration-tests/test_transactions_confluent.py || true
  fi
fi

summary
exit $FAILED
