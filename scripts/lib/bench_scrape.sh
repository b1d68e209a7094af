# shellcheck shell=bash
# The cost of being scraped: produce and consume throughput on one broker with its
# /metrics fetched every second (as Prometheus would) against the same load unscraped,
# the two interleaved run by run so that both see the same machine. Sourced by
# scripts/bench.sh, which provides PERF, RUNS, SCALE, LOGDIR, BENCH_DIR, REFS, log,
# median, free_port, broker_start/broker_stop, perf_produce and perf_consume.
#
# bench_scrape : fills SROWS with the table's rows.

bench_scrape() {
  local parts=4 size=100 count hport d r mode scraper mps mbs cmps cmbs
  count=$((1000000 / SCALE))
  broker_stop
  d="$BENCH_DIR/data-scrape"; rm -rf "$d"
  PORT=$(free_port) hport=$(free_port)
  broker_start "$d" "$PORT" "$LOGDIR/broker-scrape.log" --set auto.create.topics.enable=true \
    --set "num.partitions=$parts" --http "127.0.0.1:$hport" || exit 1
  local -A PMB=() CMB=()
  : >"$LOGDIR/scrape-times.txt"
  for r in $(seq "$RUNS"); do
    # alternate which goes first, so neither always runs on a warmer page cache
    local order="unscraped scraped"
    ((r % 2 == 0)) && order="scraped unscraped"
    for mode in $order; do
      scraper=""
      if [[ $mode == scraped ]]; then
        (
          while :; do
            curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$hport/metrics" \
              >>"$LOGDIR/scrape-times.txt"
            sleep 1
          done
        ) &
        scraper=$!
      fi
      log "scrape cost: produce ${count} x ${size} B, acks=1, $parts partitions, $mode (run $r of $RUNS)"
      read -r mps mbs < <(perf_produce "scrape-$mode-$r" "$size" "$count" 1)
      read -r cmps cmbs < <(perf_consume "scrape-$mode-$r" "$count" "$parts")
      if [[ -n $scraper ]]; then kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null; fi
      PMB[$mode]+="$mbs "
      CMB[$mode]+="$cmbs "
    done
  done
  # one scrape of the broker as it is now (every topic of the runs above), timed alone
  local one
  one=$(for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$hport/metrics"; done \
    | awk '{printf "%.1f\n", $1 * 1000}' | median)
  local series
  series=$(curl -s "http://127.0.0.1:$hport/metrics" | grep -vc '^#')
  broker_stop
  rm -rf "$d"
  local what
  SROWS=()
  for what in produce consume; do
    local -n M=$([[ $what == produce ]] && echo PMB || echo CMB)
    local u s
    u=$(tr ' ' '\n' <<<"${M[unscraped]}" | grep -v '^-\?$' | median)
    s=$(tr ' ' '\n' <<<"${M[scraped]}" | grep -v '^-\?$' | median)
    SROWS+=("| $what ${count} x ${size} B, $parts partitions$([[ $what == produce ]] && echo ', acks=1') | $u | $s | $(awk -v u="$u" -v s="$s" 'BEGIN {if (u=="-"||s=="-"||u==0) print "-"; else printf "%+.1f%%", 100*(s-u)/u}') | $(echo "${M[unscraped]}" | tr ' ' '/' | sed 's|/$||') | $(echo "${M[scraped]}" | tr ' ' '/' | sed 's|/$||') |")
    unset -n M
  done
  local during
  during=$(awk '{printf "%.1f\n", $1 * 1000}' "$LOGDIR/scrape-times.txt" | median)
  SCRAPE_ROW="| one GET /metrics: ${series} series | idle: ${one} ms; under load: ${during} ms ($(wc -l <"$LOGDIR/scrape-times.txt") scrapes) |"
}

# bench_scrape_table : prints the rows bench_scrape filled.
bench_scrape_table() {
  echo "| /metrics scraped every second vs not (same broker, runs interleaved) | unscraped MB/s | scraped MB/s | difference | runs unscraped | runs scraped |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${SROWS[@]}"
  echo
  echo "| scrape | duration (median) |"
  echo "|---|---|"
  echo "$SCRAPE_ROW"
}
