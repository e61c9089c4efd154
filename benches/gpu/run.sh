#!/usr/bin/env bash
# One GPU session's checks for issue #15, run on a lent machine without a Rust toolchain.
# Needs: pre-built binaries as <name>.xz in $IDC_GPU_BIN (default target/gpu-bin; see
# benches/gpu/README.md for how to build them), python3 (lzma; PyTorch for the comparison).
# Writes every log and summary.md under $OUT (default ./gpu-out). Budget: $GPU_BUDGET_S seconds
# of wall time in all (default 460, i.e. ~8 minutes with start-up margin); each step gets a cap
# and the remaining budget, whichever is smaller, and a step that does not fit is skipped.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN_DIR="${IDC_GPU_BIN:-$ROOT/target/gpu-bin}"
OUT="${OUT:-$ROOT/gpu-out}"
BUDGET="${GPU_BUDGET_S:-460}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
START=$(date +%s)
SUMMARY="$OUT/summary.md"

# Real patches for condense_step: the checkout's shared data when it travelled along.
if [ -z "${IDC_DATA:-}" ]; then
    for d in "$ROOT/shared/data" "$ROOT/../shared/data"; do
        [ -d "$d/train" ] && export IDC_DATA="$d" && break
    done
fi
# A fresh CubeCL kernel + autotune cache: the first process of each bench fills it, the second
# must compile nothing (its file count stays the same).
export IDC_KERNEL_CACHE="${IDC_KERNEL_CACHE:-$WORK/kernel-cache}"
mkdir -p "$IDC_KERNEL_CACHE"

{
    echo "# GPU run $(date -u +%FT%TZ)"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
    echo "IDC_DATA=${IDC_DATA:-unset} IDC_KERNEL_CACHE=$IDC_KERNEL_CACHE budget=${BUDGET}s"
    echo '```'
    echo
    echo "| step | rc | wall s | cache files before -> after |"
    echo "|---|---:|---:|---|"
} >"$SUMMARY"

# Decompress <name>.xz into $WORK/<name> with python3's lzma (no xz binary needed there).
unpack() {
    local name="$1"
    [ -f "$BIN_DIR/$name.xz" ] || return 1
    python3 - "$BIN_DIR/$name.xz" "$WORK/$name" <<'PY' || return 1
import lzma, shutil, sys
with lzma.open(sys.argv[1]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$WORK/$name"
}

cache_files() { find "$IDC_KERNEL_CACHE" -type f 2>/dev/null | wc -l; }

# step <label> <cap seconds> <command...>: runs under the smaller of cap and budget left,
# logs to $OUT/<label>.log and adds a summary row.
step() {
    local label="$1" cap="$2"
    shift 2
    local left=$((BUDGET - ($(date +%s) - START)))
    if [ "$left" -lt 20 ]; then
        echo "| $label | skipped (budget) | | |" >>"$SUMMARY"
        return
    fi
    [ "$cap" -gt "$left" ] && cap="$left"
    local before t0 rc
    before=$(cache_files)
    t0=$(date +%s.%N)
    timeout "$cap" "$@" >"$OUT/$label.log" 2>&1
    rc=$?
    local wall
    wall=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
    echo "| $label | $rc$([ $rc = 124 ] && echo ' (timeout)') | $wall | $before -> $(cache_files) |" >>"$SUMMARY"
    echo "$label: rc $rc, ${wall}s"
}

# Bench <name> twice: process 1 compiles (cold cache), process 2 should find every kernel.
bench_twice() {
    local name="$1" cold="$2" warm="$3" iters="$4"
    if ! unpack "$name"; then
        echo "| $name | missing $BIN_DIR/$name.xz | | |" >>"$SUMMARY"
        return
    fi
    step "$name-1-cold" "$cold" env IDC_BENCH_ITERS="$iters" "$WORK/$name"
    step "$name-2-warm" "$warm" env IDC_BENCH_ITERS="$iters" "$WORK/$name"
}

# In order of value per second (later steps are skipped when the budget runs out):
# 1. PyTorch eager on the same GPU (shapes of benches/edsr.rs), ~30 s.
step torch-compare 45 python3 "$ROOT/benches/gpu/torch_compare.py" --iters 20 --warmup 3

# 2. Burn benches, each twice against one kernel cache (cold process compiles, ~100 s at most).
bench_twice edsr 110 40 10
bench_twice condense_step 110 45 10

# 3. CUDA unit tests (the `cuda` twins of backend_test!, plus whatever names contain "cuda").
if unpack lib_tests; then
    step unit-tests-cuda 60 "$WORK/lib_tests" cuda --test-threads 1
else
    echo "| unit-tests-cuda | missing $BIN_DIR/lib_tests.xz | | |" >>"$SUMMARY"
fi

# 4. Batched throughput (whatever budget is left; one sweep of K, not the CPU's two rounds).
export IDC_BENCH_ROUNDS=1
bench_twice condense_throughput 90 60 3

{
    echo
    echo "Total wall: $(($(date +%s) - START)) s. Cold vs warm process: compare the wall column of"
    echo "the -1-cold and -2-warm rows (warm-up = process start to steady state); steady-state"
    echo "medians are in each log. Kernel cache files after the run: $(cache_files)."
} >>"$SUMMARY"
du -sh "$IDC_KERNEL_CACHE" >>"$OUT/kernel-cache-size.txt" 2>&1
cat "$SUMMARY"
rm -rf "$WORK"
