#!/usr/bin/env bash
# What housekeeping's periodic recovery-point checkpoints cost for many partitions: the same
# N checkpoints written the per-file way (temporary file, fsync, rename, directory fsync)
# and batched (temporary files, one syncfs, renames), twice each, interleaved, on the disk
# under BENCH_DIR, beside the disk's own fsync rate as the physical reference. Figures only.
#
#   scripts/bench-checkpoints.sh [N]        N checkpoints per way (default 5000)
#
# Environment: BENCH_DIR (default target/bench-checkpoints).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-5000}
DIR="${BENCH_DIR:-$ROOT/target/bench-checkpoints}"
mkdir -p "$DIR"
echo "physical reference: $(python3 "$ROOT/scripts/lib/bench_refs.py" fsyncrate "$DIR" 2) fsyncs/s (4 KiB append + fdatasync)"
cd "$ROOT"
# The work is system calls (open, write, fsync, rename): the debug test build measures it as
# well as a release one and is the one the test suite already built.
CHECKPOINTS=$N BENCH_DIR="$DIR/run" cargo test --lib -q periodic_checkpoints_per_file_against_batched \
  -- --ignored --nocapture 2>/dev/null | grep -E '^round'
