#!/usr/bin/env bash
# Starts the broker on an existing data directory (e.g. one scripts/bench-scale.sh left in
# target/bench-scale/pN) and prints its descriptors, maps and RSS from /proc at 2, 8, 15, 25
# and 40 s while it sits idle: how the log's budgets (sluice.log.max.open.files,
# sluice.log.max.mmaps) close idle partitions' files. Figures only.
#
#   scripts/lib/idle_fd_probe.sh BIN DATA_DIR PORT [--set NAME=VALUE ...]
set -u
BIN=$1 DATA=$2 PORT=$3; shift 3
$BIN serve --listen 127.0.0.1:$PORT --data-dir $DATA --set sluice.http.listen= --set sluice.schema.registry.listen= "$@" > $DATA.probe.log 2>&1 &
PID=$!
for t in 2 8 15 25 40; do
  sleep $(( t - ${prev:-0} )); prev=$t
  echo "t=${t}s fds=$(ls /proc/$PID/fd | wc -l) maps=$(wc -l < /proc/$PID/maps) rss_kib=$(awk '/VmRSS/{print $2}' /proc/$PID/status)"
done
kill -TERM $PID; wait $PID
grep -m1 "log budget" $DATA.probe.log
