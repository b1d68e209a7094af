# shellcheck shell=bash
# Shared by scripts/compat-librdkafka.sh and scripts/bench.sh: get librdkafka's source (with its
# tests/ folder) from the Rust crate rdkafka-sys through cargo, and build it once in a cache
# outside the repo.
#
#   source scripts/lib/librdkafka.sh
#   librdkafka_build tests         # libs + tests/test-runner      -> prints the source dir
#   librdkafka_build perf          # libs + examples/rdkafka_performance
#
# Environment:
#   SLUICE_COMPAT_CACHE   cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat)
#   RDKAFKA_SYS_VERSION   crate version (default 4.10.0+2.12.1, librdkafka 2.12.1)
#   MAKE_JOBS             parallel make jobs (default: nproc)

SLUICE_COMPAT_CACHE="${SLUICE_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-compat}"
RDKAFKA_SYS_VERSION="${RDKAFKA_SYS_VERSION:-4.10.0+2.12.1}"

_lrk_log() { printf '[librdkafka] %s\n' "$*" >&2; }

# Prints the directory of a pristine copy of the bundled librdkafka source (fetched with cargo).
librdkafka_source() {
  local base="$SLUICE_COMPAT_CACHE/librdkafka-$RDKAFKA_SYS_VERSION"
  local src="$base/src"
  if [[ ! -f "$src/.sluice-copied" ]]; then
    local proj="$base/fetch-project"
    mkdir -p "$proj/src"
    cat > "$proj/Cargo.toml" <<TOML
[package]
name = "sluice-fetch-rdkafka-sys"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
rdkafka-sys = "=${RDKAFKA_SYS_VERSION%%+*}"

[workspace]
TOML
    echo 'fn main() {}' > "$proj/src/main.rs"
    _lrk_log "fetching rdkafka-sys $RDKAFKA_SYS_VERSION with cargo"
    (cd "$proj" && cargo fetch --quiet) >&2
    local manifest
    manifest=$(cd "$proj" && cargo metadata --format-version 1 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"] == "rdkafka-sys"))')
    local crate_dir
    crate_dir=$(dirname "$manifest")
    [[ -d "$crate_dir/librdkafka/tests" ]] || { _lrk_log "ERROR: no librdkafka/tests in $crate_dir"; return 1; }
    rm -rf "$src"
    mkdir -p "$src"
    cp -a "$crate_dir/librdkafka/." "$src/"
    chmod -R u+w "$src"
    touch "$src/.sluice-copied"
  fi
  echo "$src"
}

# librdkafka_build tests|perf : builds what is asked (cached); prints the source dir.
librdkafka_build() {
  local what=$1 src jobs="${MAKE_JOBS:-$(nproc)}"
  src=$(librdkafka_source) || return 1
  local logf="$SLUICE_COMPAT_CACHE/librdkafka-$RDKAFKA_SYS_VERSION/build.log"
  (
    set -e
    cd "$src"
    exec 9>"$src/.sluice-build.lock"
    flock 9
    # RapidJSON (Debian: rapidjson-dev) lets the tests that parse librdkafka's statistics JSON
    # run (0053, 0110, ...); without it they are skipped. Re-configure when it appears.
    local rj=no
    [[ -f /usr/include/rapidjson/document.h ]] && rj=yes
    if [[ "$(cat .sluice-configured 2>/dev/null)" != "rapidjson=$rj" ]]; then
      [[ $rj == yes ]] || _lrk_log "note: rapidjson-dev is not installed; tests needing it will be skipped"
      _lrk_log "configure (log: $logf)"
      ./configure >>"$logf" 2>&1
      rm -f .sluice-libs tests/test-runner examples/rdkafka_performance
      echo "rapidjson=$rj" >.sluice-configured
    fi
    if [[ ! -f .sluice-libs ]]; then
      _lrk_log "make libs (-j$jobs, a few minutes; log: $logf)"
      make -j"$jobs" libs >>"$logf" 2>&1
      touch .sluice-libs
    fi
    case $what in
      tests)
        if [[ ! -x tests/test-runner ]]; then
          _lrk_log "make -C tests build (log: $logf)"
          make -j"$jobs" -C tests build >>"$logf" 2>&1
        fi ;;
      perf)
        if [[ ! -x examples/rdkafka_performance ]]; then
          _lrk_log "make -C examples rdkafka_performance (log: $logf)"
          make -C examples rdkafka_performance >>"$logf" 2>&1
        fi ;;
      *) _lrk_log "unknown build target $what"; exit 2 ;;
    esac
  ) || { _lrk_log "ERROR: build failed, see $logf"; tail -20 "$logf" >&2; return 1; }
  echo "$src"
}
