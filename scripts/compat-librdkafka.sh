#!/usr/bin/env bash
# librdkafka's own test suite against Sluice.
#
#   scripts/compat-librdkafka.sh              every test in integration-tests/compat/librdkafka-tests.txt
#   scripts/compat-librdkafka.sh 0012 0017    only these (options and xfail marks still come from the list)
#
# Builds librdkafka 2.12.1's tests/test-runner from the Rust crate rdkafka-sys (fetched with cargo),
# once, in ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat (see scripts/lib/librdkafka.sh). Each test
# runs against a fresh `sluice serve` on a free 127.0.0.1 port with an empty data dir, as
#   TEST_KAFKA_VERSION=3.9.0 TESTS=<id> ./run-test.sh -L -E -p1        (from tests/, never -Q)
# under a timeout. -L leaves out librdkafka's local-only tests (no broker), -E its socket-emulation
# (sockem) tests.
#
# List format (one test a line; '#' starts a comment):
#   0012                                   must pass
#   0045 scenario=noautocreate timeout=300 options: broker without topic auto-creation and
#                                          TEST_SCENARIO=noautocreate; a longer timeout
#   0081 authorizer                        the broker runs with an authorizer that allows
#                                          everyone where no ACL applies (the ACL admin tests)
#   0090   # xfail: needs ...              expected failure: FAIL is XFAIL, a pass is XPASS (loud)
#   # 0097 ...                             left out (commented), with the reason
#
# Environment:
#   SLUICE_BIN             broker binary (default target/release/sluice, built if missing)
#   SLUICE_COMPAT_CACHE    build cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat)
#   SLUICE_COMPAT_OUT      where logs go (default target/compat/librdkafka-<time>)
#   COMPAT_TIMEOUT         default per-test timeout in seconds (default 240)
#   COMPAT_LIST            the test list (default integration-tests/compat/librdkafka-tests.txt)
#   LRK_IDEMPOTENCE=1      force enable.idempotence=true on every producer the tests create, e.g.
#                          LRK_IDEMPOTENCE=1 scripts/compat-librdkafka.sh 0001 0005 0012 0017 0090
#
# Prints a table (PASS, FAIL, TIMEOUT, XFAIL, XPASS, SKIP) and totals. Exits 1 on any unexpected
# failure (FAIL or TIMEOUT of a test not marked xfail); XPASS is reported loudly but does not fail
# the run (turn the test on in the list).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
# shellcheck source=lib/librdkafka.sh
source "$ROOT/scripts/lib/librdkafka.sh"

LIST="${COMPAT_LIST:-$ROOT/integration-tests/compat/librdkafka-tests.txt}"
DEFAULT_TIMEOUT="${COMPAT_TIMEOUT:-240}"
OUT="${SLUICE_COMPAT_OUT:-$ROOT/target/compat/librdkafka-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

sluice_resolve_bin || exit 2
SRC=$(librdkafka_build tests) || exit 2
TESTS_DIR="$SRC/tests"

# --- read the list ------------------------------------------------------------------------------
declare -a IDS=() OPTS=() XFAIL=()
while IFS= read -r line || [[ -n "$line" ]]; do
  body=${line%%#*}
  comment=""
  [[ "$line" == *"#"* ]] && comment=${line#*#}
  read -r -a words <<<"$body"
  [[ ${#words[@]} -gt 0 ]] || continue
  IDS+=("${words[0]}")
  OPTS+=("${words[*]:1}")
  if [[ "$comment" =~ ^[[:space:]]*xfail ]]; then XFAIL+=("$(echo "$comment" | sed 's/^[[:space:]]*//')"); else XFAIL+=(""); fi
done <"$LIST"

declare -a RUN=()
if [[ $# -gt 0 ]]; then
  for want in "$@"; do
    found=""
    for i in "${!IDS[@]}"; do [[ "${IDS[$i]}" == "$want" ]] && found=$i; done
    if [[ -z "$found" ]]; then IDS+=("$want"); OPTS+=(""); XFAIL+=(""); found=$((${#IDS[@]} - 1)); fi
    RUN+=("$found")
  done
else
  RUN=("${!IDS[@]}")
fi

# --- run ----------------------------------------------------------------------------------------
cleanup() { broker_stop; }
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

declare -a ROWS=()
n_pass=0 n_fail=0 n_xfail=0 n_xpass=0 n_skip=0
T0=$(date +%s)
echo "librdkafka $(basename "$(dirname "$SRC")" | sed 's/^librdkafka-//') tests against $SLUICE_BIN"
echo "logs: $OUT"
for i in "${RUN[@]}"; do
  id=${IDS[$i]} opts=${OPTS[$i]} xf=${XFAIL[$i]}
  scenario=default timeout_s=$DEFAULT_TIMEOUT extra=()
  for o in $opts; do
    case $o in
      scenario=*) scenario=${o#scenario=} ;;
      timeout=*) timeout_s=${o#timeout=} ;;
      authorizer) extra+=(--set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
                          --set allow.everyone.if.no.acl.found=true) ;;
      *) echo "WARNING: unknown option '$o' for $id in $LIST" ;;
    esac
  done
  autocreate=true
  [[ $scenario == noautocreate ]] && autocreate=false

  tdir="$OUT/$id"
  [[ $scenario == default ]] || tdir="$OUT/$id-$scenario"
  mkdir -p "$tdir"
  port=$(free_port)
  if ! broker_start "$tdir/data" "$port" "$tdir/broker.log" \
      --set auto.create.topics.enable=$autocreate --set num.partitions=4 \
      --set "group.initial.rebalance.delay.ms=${LRK_REBALANCE_DELAY_MS:-3000}" "${extra[@]}"; then
    status=FAIL; secs=0; why="broker did not start"
  else
    printf 'bootstrap.servers=127.0.0.1:%s\n' "$port" >"$tdir/test.conf"
    # LRK_IDEMPOTENCE=1: every producer the tests create is idempotent (issue 5 asks for the
    # producer tests to pass that way too); test.conf applies to every client they make.
    [[ ${LRK_IDEMPOTENCE:-0} == 1 ]] && printf 'enable.idempotence=true\n' >>"$tdir/test.conf"
    t=$(date +%s)
    (cd "$TESTS_DIR" && RDKAFKA_TEST_CONF="$tdir/test.conf" TEST_KAFKA_VERSION=3.9.0 TESTS="$id" TEST_SCENARIO="$scenario" \
      timeout -k 10 "$timeout_s" ./run-test.sh -L -E -p1) >"$tdir/test.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t ))
    broker_stop
    # The runner's summary table: "| 0012_produce_consume   |     PASSED |   1.620s |"
    summary=$(sed 's/\x1b\[[0-9;]*m//g' "$tdir/test.log" | grep -E '^\| [0-9]{4}_' || true)
    npassed=$(grep -c ' PASSED ' <<<"$summary")
    nfailed=$(grep -cE ' FAILED | RUNNING ' <<<"$summary")
    nskipped=$(grep -c ' SKIPPED ' <<<"$summary")
    why=""
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
      status=TIMEOUT; why="killed after ${timeout_s}s"
    elif [[ $rc -eq 0 && $npassed -gt 0 ]]; then
      status=PASS
      [[ $nskipped -gt 0 ]] && why="($nskipped local, known-issue or other-scenario sub-test(s) not run)"
    elif [[ $rc -eq 0 && $nskipped -gt 0 ]]; then
      status=SKIP; why="runner skipped it: $(sed 's/\x1b\[[0-9;]*m//g' "$tdir/test.log" | grep -m1 -oE 'SKIP(PING|PED)[^\[]*' | head -c 120)"
    elif [[ $rc -eq 0 ]]; then
      status=SKIP; why="no test matched (local-only or sockem test?)"
    else
      status=FAIL
      why=$(sed 's/\x1b\[[0-9;]*m//g' "$tdir/test.log" | grep -m1 -E 'TEST FAILURE|Test assertion failed|FAIL:|### Test .* failed' -A2 | tr -s ' \n' ' ' | head -c 200)
    fi
    [[ $rc -ne 0 && $status == PASS ]] && status=FAIL
  fi
  if [[ -n "$xf" ]]; then
    case $status in
      FAIL | TIMEOUT) status=XFAIL; why="${xf}" ;;
      PASS) status=XPASS; why="expected to fail (${xf}) but PASSED: turn it on in the list" ;;
    esac
  fi
  case $status in
    PASS) n_pass=$((n_pass + 1)) ;;
    FAIL | TIMEOUT) n_fail=$((n_fail + 1)) ;;
    XFAIL) n_xfail=$((n_xfail + 1)) ;;
    XPASS) n_xpass=$((n_xpass + 1)) ;;
    SKIP) n_skip=$((n_skip + 1)) ;;
  esac
  row=$(printf '%-6s %-8s %5ss  %s' "$id" "$status" "$secs" "$why")
  ROWS+=("$row")
  echo "$row"
  [[ $status == PASS || $status == XFAIL ]] && rm -rf "$tdir/data"
done

echo
echo "================ librdkafka compatibility ($(( $(date +%s) - T0 ))s)"
printf '%-6s %-8s %6s  %s\n' test result time note
printf '%s\n' "${ROWS[@]}"
echo "----------------"
echo "total ${#RUN[@]}: pass $n_pass, fail $n_fail, xfail $n_xfail, xpass $n_xpass, skip $n_skip"
echo "logs: $OUT/<test>/{test.log,broker.log}"
if [[ $n_xpass -gt 0 ]]; then
  echo
  echo "!!!!!!!! $n_xpass XPASS: tests marked xfail now pass; remove their xfail mark in $LIST !!!!!!!!"
fi
if [[ $n_fail -gt 0 ]]; then echo "RESULT: FAILED ($n_fail unexpected)"; exit 1; fi
echo "RESULT: OK"
