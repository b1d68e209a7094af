# shellcheck shell=bash
# Start and stop throwaway Sluice brokers for the compatibility and benchmark scripts.
#
#   source scripts/lib/broker.sh
#   sluice_resolve_bin                 # sets SLUICE_BIN ($SLUICE_BIN, else target/release/sluice, built if missing)
#   port=$(free_port)
#   broker_start DATA_DIR PORT LOGFILE [--set NAME=VALUE ...]   # sets BROKER_PID, waits until the port accepts
#                                      # (DATA_DIR '-' runs the broker --in-memory)
#   broker_stop                        # SIGTERM, then SIGKILL after 10 s
#   broker_kill9                       # SIGKILL (crash)

_ROOT=${_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BROKER_PID=""

sluice_resolve_bin() {
  if [[ -n "${SLUICE_BIN:-}" ]]; then
    [[ -x "$SLUICE_BIN" ]] || { echo "SLUICE_BIN=$SLUICE_BIN is not an executable" >&2; return 1; }
  else
    SLUICE_BIN="$_ROOT/target/release/sluice"
    if [[ ! -x "$SLUICE_BIN" ]]; then
      echo "[broker] building $SLUICE_BIN (cargo build --release)" >&2
      (cd "$_ROOT" && cargo build --release >&2) || return 1
    fi
  fi
  export SLUICE_BIN
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_open PORT : true when 127.0.0.1:PORT accepts a connection
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

broker_start() {
  local dir=$1 port=$2 logf=$3; shift 3
  local storage=(--in-memory)
  if [[ "$dir" != "-" ]]; then mkdir -p "$dir"; storage=(--data-dir "$dir"); fi
  "$SLUICE_BIN" serve --listen "127.0.0.1:$port" "${storage[@]}" "$@" >>"$logf" 2>&1 &
  BROKER_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    if port_open "$port"; then return 0; fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "[broker] exited during start-up; last log lines:" >&2; tail -5 "$logf" >&2
      BROKER_PID=""; return 1
    fi
    sleep 0.05
  done
  echo "[broker] not accepting on 127.0.0.1:$port after 30 s" >&2
  return 1
}

broker_stop() {
  [[ -n "$BROKER_PID" ]] || return 0
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

broker_kill9() {
  [[ -n "$BROKER_PID" ]] || return 0
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}
