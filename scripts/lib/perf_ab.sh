# Throughput of one configuration against another in the same run, with librdkafka's
# rdkafka_performance: what bench-acl.sh, bench-tls.sh and bench-quota.sh share. Sourced;
# the caller sets PERF (the rdkafka_performance binary), SIZE, COUNT, LOG, and defines
# `conf NAME`, which prints the rdkafka_performance flags reaching configuration NAME
# (bootstrap address, security settings).
#
#   perf_runs RUNS NAME...   RUNS rounds; in each, every NAME produces COUNT x SIZE B to a
#                            topic of its own, then consumes it back. The order of the NAMEs
#                            rotates from round to round, so an order effect (a warm page
#                            cache, another broker's background work) favours none of them.
#   perf_medians NAME        "<produce MB/s> <consume MB/s>", the medians of NAME's rounds
#                            ("-" for a figure no round produced)

declare -A PERF_PRODUCED PERF_CONSUMED

perf_median() {
  sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'
}

# perf_rate OUTPUT_LINE : "MB/s" from rdkafka_performance's summary line
perf_rate() {
  local bytes ms
  bytes=$(sed -E 's/.*\(([0-9]+) bytes\).*/\1/' <<<"$1"); ms=$(sed -E 's/.* in ([0-9]+)ms:.*/\1/' <<<"$1")
  awk -v b="$bytes" -v ms="$ms" 'BEGIN {if (ms < 1) ms = 1; printf "%.1f\n", b/(ms/1000)/1e6}'
}

# perf_produce TOPIC NAME : "MB/s", or "-" when the run failed (a refused produce included)
perf_produce() {
  local out
  # shellcheck disable=SC2046
  out=$("$PERF" -P -t "$1" $(conf "$2") -s "$SIZE" -c "$COUNT" -a 1 -q -X enable.idempotence=false \
    -X linger.ms=5 2>&1 | tee -a "$LOG" | grep 'messages produced' | tail -1)
  [[ -n "$out" && ! "$out" =~ [1-9][0-9]*\ failed ]] || { echo "-"; return; }
  perf_rate "$out"
}

# perf_consume TOPIC NAME : "MB/s", or "-"
perf_consume() {
  local out
  # shellcheck disable=SC2046
  out=$(timeout 300 "$PERF" -C -t "$1" -p 0 $(conf "$2") -o beginning -c "$COUNT" -q 2>&1 \
    | tee -a "$LOG" | grep 'consumed in' | tail -1)
  [[ -n "$out" ]] || { echo "-"; return; }
  perf_rate "$out"
}

perf_runs() {
  local runs=$1 r i n name; shift
  local names=("$@")
  n=${#names[@]}
  for r in $(seq "$runs"); do
    for i in $(seq 0 $((n - 1))); do
      name=${names[$(((i + r - 1) % n))]}
      printf '[%s] run %s: %s produce %s x %s B, then consume\n' "$(date +%H:%M:%S)" "$r" "$name" "$COUNT" "$SIZE" >&2
      PERF_PRODUCED[$name]+="$(perf_produce "t-$name-$r" "$name") "
      PERF_CONSUMED[$name]+="$(perf_consume "t-$name-$r" "$name") "
    done
  done
}

perf_medians() {
  local p c
  p=$(tr ' ' '\n' <<<"${PERF_PRODUCED[$1]}" | grep -v '^[-]*$' | perf_median)
  c=$(tr ' ' '\n' <<<"${PERF_CONSUMED[$1]}" | grep -v '^[-]*$' | perf_median)
  echo "$p $c"
}
