#!/usr/bin/env bash
# kafka-python 3.0.12's own integration tests (producer, consumer, admin) against Sluice.
#
#   scripts/compat-kafka-python.sh                    all three files
#   scripts/compat-kafka-python.sh producer admin     only these files
#   KP_PYTEST_ARGS="-k end_to_end" scripts/compat-kafka-python.sh producer
#
# Gets kafka-python's sdist with pip (pip download --no-binary :all:), unpacks it and builds a venv
# with it and the test dependencies, once, in ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat. The
# sdist lacks test/__init__.py and test/service.py: the script writes an empty __init__.py and
# copies integration-tests/compat/kafka_python_service.py (existing-broker case only) as service.py.
# Each test file runs against a fresh `sluice serve` on a free 127.0.0.1 port with an empty data
# dir, with KAFKA_URI=PLAINTEXT://127.0.0.1:PORT KAFKA_VERSION=4.2.0 KAFKA_ROOT=<empty dir>
# (4.2.0: what kafka-python infers from Sluice's ranges since ListOffsets v11; KP_KAFKA_VERSION
# overrides).
#
# Expected failures (features Sluice does not have yet) are listed, one pytest node id a line with
# the reason, in integration-tests/compat/kafka-python-xfail.txt. A listed test that fails is XFAIL,
# one that passes is XPASS (reported loudly: take it off the list). A reason that starts with
# "intermittent" marks a known client-side race instead: a failure shows as FLAKY with the
# diagnosis and a pass as PASS, and neither fails the run.
#
# Environment:
#   SLUICE_BIN            broker binary (default target/release/sluice, built if missing)
#   SLUICE_COMPAT_CACHE   cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat)
#   SLUICE_COMPAT_OUT     logs (default target/compat/kafka-python-<time>)
#   KP_PYTEST_ARGS        extra pytest arguments
#   PYTHON                python3 to build the venv with (default python3)
#
# Exits 1 on any unexpected failure or error.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ROOT=$ROOT
# shellcheck source=lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"

KP_VERSION=3.0.12
CACHE="${SLUICE_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat}/kafka-python-$KP_VERSION"
XFAIL_LIST="$ROOT/integration-tests/compat/kafka-python-xfail.txt"
OUT="${SLUICE_COMPAT_OUT:-$ROOT/target/compat/kafka-python-$(date +%Y%m%d-%H%M%S)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"

log() { printf '[compat-kafka-python] %s\n' "$*" >&2; }

sluice_resolve_bin || exit 2

# --- kafka-python sdist + venv (cached) ----------------------------------------------------------
SDIST_DIR="$CACHE/kafka_python-$KP_VERSION"
VENV="$CACHE/venv"
if [[ ! -f "$CACHE/.ready" ]]; then
  log "setting up kafka-python $KP_VERSION in $CACHE"
  mkdir -p "$CACHE"
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV" || exit 2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    pytest pytest-mock pytest-timeout lz4 python-snappy zstandard crc32c xxhash || exit 2
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
    -d "$CACHE/dl" "kafka-python==$KP_VERSION" || exit 2
  rm -rf "$SDIST_DIR"
  tar -xzf "$CACHE/dl/kafka_python-$KP_VERSION.tar.gz" -C "$CACHE" || exit 2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$SDIST_DIR" || exit 2
  touch "$CACHE/.ready"
fi
# The two files the sdist lacks (refreshed every run, so shim edits take effect).
: >"$SDIST_DIR/test/__init__.py"
cp "$ROOT/integration-tests/compat/kafka_python_service.py" "$SDIST_DIR/test/service.py"

# --- run -------------------------------------------------------------------------------------------
FILES=("$@")
[[ ${#FILES[@]} -gt 0 ]] || FILES=(producer consumer admin)

cleanup() { broker_stop; }
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

T0=$(date +%s)
echo "kafka-python $KP_VERSION integration tests against $SLUICE_BIN"
echo "logs: $OUT"
for f in "${FILES[@]}"; do
  fdir="$OUT/$f"
  mkdir -p "$fdir/kafka-root"
  port=$(free_port)
  # The settings kafka-python's own broker fixture writes into kafka.properties
  # (servers/resources/*/kafka.properties in its repository): broker id 0 (test_create_partitions
  # assigns new partitions to broker 0), 4 partitions, auto-create on, a static advertised
  # listener, group.min.session.timeout.ms=1000 (test_group uses 3000 ms sessions),
  # group.initial.rebalance.delay.ms=0, 2 partitions for __consumer_offsets. Also an
  # authorizer that allows everyone where no ACL applies, so test_create_describe_delete_acls
  # can manage ACLs while the other tests run as without one.
  settings=(--advertised-listener "127.0.0.1:$port"
    --set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
    --set allow.everyone.if.no.acl.found=true
    --set auto.create.topics.enable=true --set num.partitions=4
    --set group.min.session.timeout.ms=1000 --set group.initial.rebalance.delay.ms=0
    --set offsets.topic.num.partitions=2)
  if ! broker_start "$fdir/data" "$port" "$fdir/broker.log" --set node.id=0 "${settings[@]}" 2>/dev/null; then
    log "$f: the broker refuses node.id=0 ($(grep -m1 -i 'node.id' "$fdir/broker.log" | cut -c1-150)); using its default id"
    broker_start "$fdir/data" "$port" "$fdir/broker.log" "${settings[@]}" \
      || { echo "$f: broker did not start" >"$fdir/pytest.log"; continue; }
  fi
  t=$(date +%s)
  # shellcheck disable=SC2086
  (cd "$SDIST_DIR" && KAFKA_URI="PLAINTEXT://127.0.0.1:$port" KAFKA_VERSION="${KP_KAFKA_VERSION:-4.2.0}" KAFKA_ROOT="$fdir/kafka-root" \
    timeout -k 10 3600 "$VENV/bin/python" -m pytest "test/integration/test_${f}_integration.py" \
      --timeout 120 --tb=line -q -p no:cacheprovider -o log_level=INFO \
      --junitxml="$fdir/junit.xml" ${KP_PYTEST_ARGS:-}) >"$fdir/pytest.log" 2>&1
  log "$f: pytest exit $? in $(( $(date +%s) - t ))s"
  broker_stop
done

# --- table -----------------------------------------------------------------------------------------
"$VENV/bin/python" - "$OUT" "$XFAIL_LIST" "$(( $(date +%s) - T0 ))" "${FILES[@]}" <<'PY'
import os, re, sys
import xml.etree.ElementTree as ET

out, xfail_path, secs, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
xfail = {}
if os.path.exists(xfail_path):
    for line in open(xfail_path):
        body, _, why = line.partition('#')
        body = body.strip()
        if body:
            xfail[body] = why.strip() or 'expected failure'

rows, counts = [], dict(PASS=0, FAIL=0, XFAIL=0, XPASS=0, FLAKY=0, SKIP=0)
for f in files:
    junit = os.path.join(out, f, 'junit.xml')
    if not os.path.exists(junit):
        rows.append((f'test_{f}_integration.py', 'FAIL', 0.0, 'no junit report (pytest crashed or broker did not start): see ' + os.path.join(out, f, 'pytest.log')))
        counts['FAIL'] += 1
        continue
    for tc in ET.parse(junit).getroot().iter('testcase'):
        name = tc.get('name')
        node = f'test_{f}_integration.py::{name}'
        t = float(tc.get('time') or 0)
        fail = tc.find('failure')
        if fail is None:
            fail = tc.find('error')
        skip = tc.find('skipped')
        if skip is not None:
            status, note = 'SKIP', (skip.get('message') or '')[:110]
        elif fail is not None:
            status = 'FAIL'
            msg = (fail.get('message') or '').strip().splitlines()
            note = (msg[0] if msg else '')[:160]
        else:
            status, note = 'PASS', ''
        key = next((k for k in xfail if k == node or (k.endswith('*') and node.startswith(k[:-1]))), None)
        if key is not None and xfail[key].startswith('intermittent'):
            # A known client-side race: a failure is reported as FLAKY with its diagnosis,
            # a pass is a plain PASS; neither fails the run.
            if status == 'FAIL':
                status, note = 'FLAKY', xfail[key]
        elif key is not None:
            if status == 'FAIL':
                status, note = 'XFAIL', xfail[key]
            elif status == 'PASS':
                status, note = 'XPASS', f'expected to fail ({xfail[key]}) but PASSED: take it off the xfail list'
        counts[status] += 1
        rows.append((node, status, t, note))

print()
print(f'================ kafka-python compatibility ({secs}s)')
w = max([len(r[0]) for r in rows] + [4])
print(f'{"test":<{w}} {"result":<6} {"time":>6}  note')
for node, status, t, note in rows:
    print(f'{node:<{w}} {status:<6} {t:5.1f}s  {note}')
print('----------------')
print(f'total {len(rows)}: pass {counts["PASS"]}, fail {counts["FAIL"]}, xfail {counts["XFAIL"]}, '
      f'xpass {counts["XPASS"]}, flaky {counts["FLAKY"]}, skip {counts["SKIP"]}')
print(f'logs: {out}/<file>/{{pytest.log,broker.log,junit.xml}}')
if counts['XPASS']:
    print(f'\n!!!!!!!! {counts["XPASS"]} XPASS: tests on the xfail list now pass; remove them from {xfail_path} !!!!!!!!')
if counts['FAIL']:
    print(f'RESULT: FAILED ({counts["FAIL"]} unexpected)')
    sys.exit(1)
print('RESULT: OK')
PY
