# shellcheck shell=bash
# The cost of exporting request spans with OTLP: produce and consume throughput on a
# broker with sluice.otlp.endpoint pointing at a local receiver (scripts/lib/otlp_sink.py)
# against the same load on a broker without it, at the default tracing level (RUST_LOG
# unset: info, the level of the request spans). The setting is fixed at start-up, so each
# run starts a fresh broker per mode; the modes alternate run by run so that both see the
# same machine. Sourced by scripts/bench.sh, which provides PERF, RUNS, SCALE, LOGDIR,
# BENCH_DIR, ROOT, log, median, free_port, broker_start/broker_stop, perf_produce and
# perf_consume.
#
# bench_otlp : fills OROWS with the table's rows and OTLP_ROW with what the receiver got.

bench_otlp() {
  local parts=4 size=100 count sport sink py d r mode mps mbs cmps cmbs
  count=$((1000000 / SCALE))
  broker_stop
  # the default tracing level: RUST_LOG unset for these brokers, put back after
  local had_log=${RUST_LOG+x} old_log=${RUST_LOG-}
  unset RUST_LOG
  py=python3
  [[ -x "$ROOT/.venv/bin/python" ]] && py="$ROOT/.venv/bin/python"
  sport=$(free_port)
  "$py" "$ROOT/scripts/lib/otlp_sink.py" "$sport" >"$LOGDIR/otlp-sink.log" 2>&1 &
  sink=$!
  local -A PMB=() CMB=()
  for r in $(seq "$RUNS"); do
    local order="off on"
    ((r % 2 == 0)) && order="on off"
    for mode in $order; do
      d="$BENCH_DIR/data-otlp"; rm -rf "$d"
      PORT=$(free_port)
      local otlp=()
      [[ $mode == on ]] && otlp=(--set "sluice.otlp.endpoint=http://127.0.0.1:$sport")
      broker_start "$d" "$PORT" "$LOGDIR/broker-otlp-$mode.log" --set auto.create.topics.enable=true \
        --set "num.partitions=$parts" "${otlp[@]}" || exit 1
      log "span export cost: produce ${count} x ${size} B, acks=1, $parts partitions, OTLP $mode (run $r of $RUNS)"
      read -r mps mbs < <(perf_produce "otlp-$r" "$size" "$count" 1)
      read -r cmps cmbs < <(perf_consume "otlp-$r" "$count" "$parts")
      broker_stop
      PMB[$mode]+="$mbs "
      CMB[$mode]+="$cmbs "
    done
  done
  rm -rf "$d"
  local stats
  stats=$(curl -s "http://127.0.0.1:$sport/stats")
  kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null
  [[ -n $had_log ]] && export RUST_LOG=$old_log
  local what
  OROWS=()
  for what in produce consume; do
    local -n M=$([[ $what == produce ]] && echo PMB || echo CMB)
    local u s
    u=$(tr ' ' '\n' <<<"${M[off]}" | grep -v '^-\?$' | median)
    s=$(tr ' ' '\n' <<<"${M[on]}" | grep -v '^-\?$' | median)
    OROWS+=("| $what ${count} x ${size} B, $parts partitions$([[ $what == produce ]] && echo ', acks=1') | $u | $s | $(awk -v u="$u" -v s="$s" 'BEGIN {if (u=="-"||s=="-"||u==0) print "-"; else printf "%+.1f%%", 100*(s-u)/u}') | $(echo "${M[off]}" | tr ' ' '/' | sed 's|/$||') | $(echo "${M[on]}" | tr ' ' '/' | sed 's|/$||') |")
    unset -n M
  done
  OTLP_ROW="| received by the local OTLP receiver over the $RUNS exporting runs | $stats |"
}

# bench_otlp_table : prints the rows bench_otlp filled.
bench_otlp_table() {
  echo "| request spans exported with OTLP vs not (default log level, runs interleaved) | off MB/s | on MB/s | difference | runs off | runs on |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${OROWS[@]}"
  echo
  echo "| OTLP receiver | counts |"
  echo "|---|---|"
  echo "$OTLP_ROW"
}
