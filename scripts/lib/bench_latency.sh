# shellcheck shell=bash
# Where produce latency goes at a fixed rate (one producer, linger.ms=0, 100 B records): the
# client's per-record delivery latency beside the broker's own view of the same Produce requests
# (sluice_request_duration_seconds by stage: queue, handle, remote = the wait for the fsync, send,
# total) and of its fsyncs (sluice_fsync_duration_seconds, sluice_group_commit_offsets), from two
# /metrics scrapes around each run, and two physical references measured in the same minutes:
# the disk's own fsync latency paced at the same rate (4 KiB append + fdatasync, bench_refs.py
# fsynclat), and group commit on a bare file (170 B appends at the rate while as many threads as
# the broker may run fdatasync back to back, examples/group_commit_reference.rs, compiled here
# with rustc -O): the least an acks=all answer can wait on this disk; and the same on a file
# preallocated with zeros (appends overwrite it, so an fdatasync commits no new length or
# blocks to the file system's journal): what appending itself costs. acks=all runs once per
# `sluice.acks.all.concurrent.fsyncs` value in LATENCY_FSYNCS (default "1 2": the default, then
# two at a time) and per `log.preallocate` value in LATENCY_PREALLOCATE (default "false true"),
# each on a fresh broker, so the rows compare them in the same run. Sourced by scripts/bench.sh,
# which provides PERF, RUNS, SCALE, LOGDIR, BENCH_DIR, REFS, log, median, free_port,
# broker_start/broker_stop.
#
# bench_latency : fills LBROWS with the table's rows.

bench_latency() {
  local seconds=$((10 / SCALE < 2 ? 2 : 10 / SCALE)) hport d spec acks rate fsyncs a r f count
  local fsync_values=${LATENCY_FSYNCS:-1 2} prealloc_values=${LATENCY_PREALLOCATE:-false true}
  local n pre specs=()
  for rate in 1000 5000; do
    specs+=("1 $rate - false")
    for pre in $prealloc_values; do
      for n in $fsync_values; do specs+=("all $rate $n $pre"); done
    done
  done
  local reference="$BENCH_DIR/group_commit_reference"
  rustc -O --edition 2021 "$ROOT/examples/group_commit_reference.rs" -o "$reference" || exit 1
  LBROWS=()
  for spec in "${specs[@]}"; do
    read -r acks rate fsyncs pre <<<"$spec"
    broker_stop
    d="$BENCH_DIR/data-latency"; rm -rf "$d"
    PORT=$(free_port) hport=$(free_port)
    local set=(--set "log.preallocate=$pre")
    [[ $fsyncs != - ]] && set+=(--set "sluice.acks.all.concurrent.fsyncs=$fsyncs")
    broker_start "$d" "$PORT" "$LOGDIR/broker-latency.log" --set auto.create.topics.enable=true \
      --set num.partitions=1 --http "127.0.0.1:$hport" "${set[@]}" || exit 1
    count=$((rate * seconds))
    a=$acks; [[ $acks == all ]] && a=-1
    local -a client=() total=() remote=() queue=() send=() fsync=() batch=() disk=() group=() prealloc=()
    for r in $(seq "$RUNS"); do
      log "latency breakdown: ${count} x 100 B at ${rate}/s, acks=$acks (run $r of $RUNS)"
      f="$LOGDIR/latbd-$acks-$rate-$r.txt"
      "$PERF" -P -t "latbd-$acks-$rate-$r" -b "127.0.0.1:$PORT" -s 100 -c 100 -a "$a" -q \
        -X enable.idempotence=false >>"$LOGDIR/perf.log" 2>&1
      curl -s "http://127.0.0.1:$hport/metrics" >"$LOGDIR/latbd-before.txt"
      "$PERF" -P -t "latbd-$acks-$rate-$r" -b "127.0.0.1:$PORT" -s 100 -c "$count" -a "$a" -r "$rate" -l -A "$f" -q \
        -X enable.idempotence=false -X linger.ms=0 >>"$LOGDIR/perf.log" 2>&1
      curl -s "http://127.0.0.1:$hport/metrics" >"$LOGDIR/latbd-after.txt"
      client+=("$($REFS percentiles "$f" $((rate / 2)))")
      local h="$LOGDIR/latbd-before.txt $LOGDIR/latbd-after.txt"
      # shellcheck disable=SC2086
      {
        total+=("$($REFS histq $h sluice_request_duration_seconds 'api="Produce",stage="total"' | cut -d' ' -f2-)")
        remote+=("$($REFS histq $h sluice_request_duration_seconds 'api="Produce",stage="remote"' | cut -d' ' -f2-)")
        queue+=("$($REFS histq $h sluice_request_duration_seconds 'api="Produce",stage="queue"' | cut -d' ' -f2-)")
        send+=("$($REFS histq $h sluice_request_duration_seconds 'api="Produce",stage="send"' | cut -d' ' -f2-)")
        fsync+=("$($REFS histq $h sluice_fsync_duration_seconds '')")
        batch+=("$($REFS histq $h sluice_group_commit_offsets '' | awk '{if ($5 == "-") print "-"; else printf "%.1f\n", $5 / 1000}')")
      }
      disk+=("$($REFS fsynclat "$BENCH_DIR" "$seconds" "$rate")")
      if [[ $fsyncs != - ]]; then
        group+=("$("$reference" "$BENCH_DIR" "$seconds" "$rate" 170 "$fsyncs")")
        prealloc+=("$("$reference" "$BENCH_DIR" "$seconds" "$rate" 170 "$fsyncs" prealloc)")
      else
        group+=("- - -")
        prealloc+=("- - -")
      fi
    done
    # column K (1-based) of each "p50 p99 p99.9" entry -> the median over runs
    col() { local k=$1; shift; printf '%s\n' "$@" | awk -v k="$k" '{print $k}' | grep -v '^-$' | median; }
    local fs_count fs_p50 fs_p99 fs_p999
    fs_count=$(printf '%s\n' "${fsync[@]}" | awk '{print $1}' | median)
    fs_p50=$(printf '%s\n' "${fsync[@]}" | awk '{print $2}' | grep -v '^-$' | median)
    fs_p99=$(printf '%s\n' "${fsync[@]}" | awk '{print $3}' | grep -v '^-$' | median)
    fs_p999=$(printf '%s\n' "${fsync[@]}" | awk '{print $4}' | grep -v '^-$' | median)
    LBROWS+=("| acks=$acks | $rate/s | $fsyncs | $pre | $(col 1 "${client[@]}") / $(col 2 "${client[@]}") / $(col 3 "${client[@]}") | \
$(col 1 "${total[@]}") / $(col 2 "${total[@]}") / $(col 3 "${total[@]}") | $(col 2 "${queue[@]}") | \
$(col 2 "${remote[@]}") / $(col 3 "${remote[@]}") | $(col 2 "${send[@]}") | \
$fs_count: $fs_p50 / $fs_p99 / $fs_p999 | $(printf '%s\n' "${batch[@]}" | median) | \
$(col 1 "${disk[@]}") / $(col 2 "${disk[@]}") / $(col 3 "${disk[@]}") | \
$(col 1 "${group[@]}") / $(col 2 "${group[@]}") / $(col 3 "${group[@]}") | \
$(col 1 "${prealloc[@]}") / $(col 2 "${prealloc[@]}") / $(col 3 "${prealloc[@]}") | $(printf '%s' "${client[*]}" | awk '{for (i = 2; i <= NF; i += 3) printf "%s%s", (i > 2 ? "/" : ""), $i}') |")
    unset -f col
  done
  broker_stop
  rm -rf "$d"
}

bench_latency_table() {
  echo
  echo "| acks | rate | concurrent fsyncs | log.preallocate | client p50 / p99 / p99.9 ms | broker total p50 / p99 / p99.9 ms | queue p99 ms | remote (fsync wait) p99 / p99.9 ms | send p99 ms | broker fsyncs: count: p50 / p99 / p99.9 ms | offsets per fsync, mean | disk alone, paced at the rate: p50 / p99 / p99.9 ms | group commit on a bare file: p50 / p99 / p99.9 ms | the same, file preallocated: p50 / p99 / p99.9 ms | client p99 per run |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${LBROWS[@]}"
  echo
  echo "Broker figures come from histograms with power-of-two buckets from 0.1 ms, interpolated within a bucket"
  echo "(Prometheus' histogram_quantile); each cell is the median over $RUNS runs. Client latencies leave out"
  echo "the first half second of each run (connection set-up)."
}
