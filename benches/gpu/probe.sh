#!/usr/bin/env bash
# A lent GPU's second call (issue #27): where a fresh process's start-up goes, and what the
# autotune level costs. Same conventions as run.sh (binaries as <name>.xz in $IDC_GPU_BIN,
# default target/gpu-bin; logs and summary.md under $OUT). The benches print a progress line per
# pass on stderr ("[elapsed s] pass done: first run .. ms, median .. ms"), so a step cut off by
# its cap still shows each pass's warm-up. Steps:
#   edsr, default autotune, kernel cache seeded from run.sh's call ($BIN_DIR/kernel-cache.tar.xz);
#   edsr, CUBECL_AUTOTUNE_LEVEL=minimal, its own fresh cache, with the CUDA unit tests in the
#   background (correctness only; that step's warm-up is the figure it is for), then again, warm;
#   condense_throughput with an EDSR-tiny extractor at the minimal level (K in 1, 4, 16, 64).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN_DIR="${IDC_GPU_BIN:-$ROOT/target/gpu-bin}"
OUT="${OUT:-$ROOT/gpu-out}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
SUMMARY="$OUT/summary.md"

unpack() {
    python3 - "$BIN_DIR/$1.xz" "$WORK/$1" <<'PY' && chmod +x "$WORK/$1"
import lzma, shutil, sys
with lzma.open(sys.argv[1]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
}

# step <label> <cap s> <kernel cache dir> <command...>
step() {
    local label="$1" cap="$2" cache="$3"
    shift 3
    mkdir -p "$cache"
    local before t0 rc
    before=$(find "$cache" -type f | wc -l)
    t0=$(date +%s.%N)
    IDC_KERNEL_CACHE="$cache" timeout "$cap" "$@" >"$OUT/$label.log" 2>&1
    rc=$?
    local wall
    wall=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
    echo "| $label | $rc$([ $rc = 124 ] && echo ' (timeout)') | $wall | $before -> $(find "$cache" -type f | wc -l) |" >>"$SUMMARY"
    echo "$label: rc $rc, ${wall}s"
}

for b in edsr condense_throughput lib_tests; do unpack "$b"; done
SEEDED="$WORK/cache-seeded"
mkdir -p "$SEEDED"
[ -f "$BIN_DIR/kernel-cache.tar.xz" ] &&
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
        "$BIN_DIR/kernel-cache.tar.xz" "$SEEDED"
{
    echo "# GPU probe $(date -u +%FT%TZ)"
    echo
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    echo
    echo "| step | rc | wall s | cache files before -> after |"
    echo "|---|---:|---:|---|"
} >"$SUMMARY"

step edsr-seeded-balanced 100 "$SEEDED" env IDC_BENCH_ITERS=5 "$WORK/edsr"
timeout 90 "$WORK/lib_tests" cuda --test-threads 1 >"$OUT/unit-tests-cuda.log" 2>&1 &
TESTS=$!
step edsr-fresh-minimal-1 80 "$WORK/cache-min" env CUBECL_AUTOTUNE_LEVEL=minimal IDC_BENCH_ITERS=5 "$WORK/edsr"
wait "$TESTS"
echo "| unit-tests-cuda (background) | $? | | |" >>"$SUMMARY"
step edsr-fresh-minimal-2-warm 40 "$WORK/cache-min" env CUBECL_AUTOTUNE_LEVEL=minimal IDC_BENCH_ITERS=5 "$WORK/edsr"
step condense_throughput-tiny-minimal 100 "$WORK/cache-min" env CUBECL_AUTOTUNE_LEVEL=minimal \
    IDC_BENCH_ITERS=3 IDC_BENCH_ROUNDS=1 IDC_BENCH_ARCH=edsr-tiny "$WORK/condense_throughput"
cat "$SUMMARY"
rm -rf "$WORK"
