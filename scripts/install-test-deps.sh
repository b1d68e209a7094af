#!/usr/bin/env bash
# Installs everything the integration tests need; idempotent and quick when all is in place.
#
#   .venv/                         Python venv: pytest, confluent-kafka, kafka-python + codecs
#                                  (integration-tests/requirements.txt)
#   kcat                           Debian's package (apt-get), only if missing
#   prometheus                     Debian's package (apt-get), only if missing: the server that
#                                  test_http_admin.py starts to scrape the broker's /metrics
#   chromium                       Debian's package (apt-get), only if missing: the browser that
#                                  test_console.py drives with playwright-core (npm, below)
#   build-essential perl zlib1g-dev  Debian's packages (apt-get), only if missing: the bundled
#                                  librdkafka that the `rdkafka` crate (Rust tests) builds
#   integration-tests/node/node_modules   kafkajs + codecs, playwright-core, from the committed package-lock.json
#   $HOME/.cache/sluice-test/java  the official Java client (kafka-clients 3.9.1) and its codec jars,
#                                  taken out of a PyPI wheel (Maven Central is not reachable here)
#
# Needs: python3 (3.11) with venv+pip, node + npm, java + javac, apt-get (as root, or sudo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

JAVA_LIB_DIR="${SLUICE_JAVA_LIB_DIR:-$HOME/.cache/sluice-test/java}"
JAVA_WHEEL="shigawire-apache-flink-libraries==2.0.0.post1"
JAVA_JARS=(kafka-clients.jar lz4-java.jar snappy-java.jar zstd-jni.jar slf4j-api.jar)

log() { printf '[install-test-deps] %s\n' "$*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { log "ERROR: '$1' is required but not installed"; exit 1; }
}
need python3
need node
need npm
need java
need javac

# -- Python venv -------------------------------------------------------------------------------
REQ=integration-tests/requirements.txt
STAMP=.venv/.sluice-requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  log "python venv: installing $REQ into .venv/"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
else
  log "python venv: up to date"
fi

# -- kcat (Debian) ------------------------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1; then
  log "kcat: installing with apt-get"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "ERROR: kcat missing; need root or sudo for apt-get"; exit 1; }
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq kcat >/dev/null
else
  log "kcat: present ($(command -v kcat))"
fi

# -- Prometheus server (Debian) -----------------------------------------------------------------
if ! command -v prometheus >/dev/null 2>&1; then
  log "prometheus: installing with apt-get"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "ERROR: prometheus missing; need root or sudo for apt-get"; exit 1; }
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
else
  log "prometheus: present ($(command -v prometheus))"
fi

# -- Chromium (Debian), driven by playwright-core in test_console.py -----------------------------
if ! command -v chromium >/dev/null 2>&1; then
  log "chromium: installing with apt-get"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "ERROR: chromium missing; need root or sudo for apt-get"; exit 1; }
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
else
  log "chromium: present ($(command -v chromium))"
fi

# -- librdkafka build tools (Debian) ------------------------------------------------------------
# The Rust tests of the embedded broker (tests/embedded_broker*.rs) use the `rdkafka` crate,
# which builds its bundled librdkafka with its default features: a C toolchain, make, perl
# and zlib's headers.
RDKAFKA_PKGS=(build-essential perl zlib1g-dev)
missing_pkgs=()
for p in "${RDKAFKA_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_pkgs+=("$p")
done
if [[ ${#missing_pkgs[@]} -gt 0 ]]; then
  log "librdkafka build tools: installing ${missing_pkgs[*]} with apt-get"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "ERROR: ${missing_pkgs[*]} missing; need root or sudo for apt-get"; exit 1; }
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
else
  log "librdkafka build tools: present"
fi

# -- kafkajs (npm) -------------------------------------------------------------------------------
NODE_DIR=integration-tests/node
if [[ ! -f "$NODE_DIR/node_modules/.package-lock.json" ]] \
   || ! cmp -s <(sha256sum < "$NODE_DIR/package-lock.json") "$NODE_DIR/node_modules/.sluice-lock.sha256"; then
  log "node: npm ci in $NODE_DIR"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  sha256sum < "$NODE_DIR/package-lock.json" > "$NODE_DIR/node_modules/.sluice-lock.sha256"
else
  log "node: up to date"
fi

# -- Java kafka-clients + codec jars from the PyPI wheel -------------------------------------------
missing=0
for j in "${JAVA_JARS[@]}"; do [[ -s "$JAVA_LIB_DIR/$j" ]] || missing=1; done
if [[ $missing -eq 1 ]]; then
  log "java: fetching kafka-clients from the $JAVA_WHEEL wheel into $JAVA_LIB_DIR"
  mkdir -p "$JAVA_LIB_DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$JAVA_WHEEL"
  .venv/bin/python - "$tmp" "$JAVA_LIB_DIR" "${JAVA_JARS[@]}" <<'PY'
import glob, os, sys, zipfile
tmp, dest, jars = sys.argv[1], sys.argv[2], sys.argv[3:]
[wheel] = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as z:
    for jar in jars:
        data = z.read(f"pyflink/lib/{jar}")
        part = os.path.join(dest, jar + ".part")
        with open(part, "wb") as f:
            f.write(data)
        os.replace(part, os.path.join(dest, jar))
PY
  rm -rf "$tmp"
  trap - EXIT
  version=$(.venv/bin/python -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("kafka/kafka-version.properties").decode())' \
    "$JAVA_LIB_DIR/kafka-clients.jar" 2>/dev/null | sed -n 's/^version=//p' || true)
  log "java: kafka-clients ${version:-?} ready"
else
  log "java: jars present in $JAVA_LIB_DIR"
fi

log "done"
