#!/usr/bin/env bash
# One GPU session's checks for issues #15/#27, run on a lent machine without a Rust toolchain.
# Needs: pre-built binaries as <name>.xz in $IDC_GPU_BIN (default target/gpu-bin; see
# benches/gpu/README.md for how to build them), python3 (lzma; PyTorch for the comparison).
# Writes every log and summary.md under $OUT (default ./gpu-out). Budget: $GPU_BUDGET_S seconds
# of wall time in all (default 540, i.e. ~9 minutes; a machine started in ~30 s on 2026-12-04);
# each step gets a cap and the remaining budget, whichever is smaller, and a step that does not
# fit is skipped. Caps from the H200 calls of 2026-12-04 (docs/results/gpu-nvidia-h200): in a
# process with a fresh kernel cache the first run of each pass (forward, train step, input
# gradient, a condensation step) compiles and autotunes for ~5-45 s, so a cold bench needs
# 2-3 minutes; with every kernel cached a pass's first run takes under a second.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN_DIR="${IDC_GPU_BIN:-$ROOT/target/gpu-bin}"
OUT="${OUT:-$ROOT/gpu-out}"
BUDGET="${GPU_BUDGET_S:-540}"
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
# A kernel cache brought back from an earlier call ($BIN_DIR/kernel-cache.tar.xz) seeds this one,
# so a second call measures warm processes only.
SEEDED=no
if [ -f "$BIN_DIR/kernel-cache.tar.xz" ]; then
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
        "$BIN_DIR/kernel-cache.tar.xz" "$IDC_KERNEL_CACHE" && SEEDED=yes
fi

{
    echo "# GPU run $(date -u +%FT%TZ)"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
    echo "IDC_DATA=${IDC_DATA:-unset} IDC_KERNEL_CACHE=$IDC_KERNEL_CACHE budget=${BUDGET}s kernel cache seeded: $SEEDED"
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
# 1. PyTorch eager on the same GPU (shapes of benches/edsr.rs, the condense_step floor and a
#    per-instance condensation loop), ~30 s.
step torch-compare 45 python3 "$ROOT/benches/gpu/torch_compare.py" --iters 20 --warmup 3

# 2. EDSR-tiny passes, twice against one kernel cache (the cold process compiles, ~150 s;
#    the warm one shows a fresh process's start-up with every kernel cached).
bench_twice edsr 200 40 5

# 3. Batched condensation with an EDSR-tiny extractor (the GPU-hour goal): one sweep of K.
export IDC_BENCH_ROUNDS=1
if unpack condense_throughput; then
    step condense_throughput-tiny 200 env IDC_BENCH_ITERS=3 IDC_BENCH_ARCH=edsr-tiny \
        "$WORK/condense_throughput"
else
    echo "| condense_throughput | missing $BIN_DIR/condense_throughput.xz | | |" >>"$SUMMARY"
fi

# 4. One condensation iteration against its extractor floor (EDSR 64x16).
bench_twice condense_step 150 45 5

# 5. CUDA unit tests (the `cuda` twins of backend_test!, plus whatever names contain "cuda").
if unpack lib_tests; then
    step unit-tests-cuda 60 "$WORK/lib_tests" cuda --test-threads 1
else
    echo "| unit-tests-cuda | missing $BIN_DIR/lib_tests.xz | | |" >>"$SUMMARY"
fi

# 6. SwinIR beside EDSR (forward, train step, input gradient): one process.
if unpack swinir; then
    step swinir 150 env IDC_BENCH_ITERS=3 "$WORK/swinir"
else
    echo "| swinir | missing $BIN_DIR/swinir.xz | | |" >>"$SUMMARY"
fi

# 7. Batched condensation with the EDSR-baseline extractor (whatever budget is left).
[ -x "$WORK/condense_throughput" ] &&
    step condense_throughput-baseline 90 env IDC_BENCH_ITERS=3 "$WORK/condense_throughput"

{
    echo
    echo "Total wall: $(($(date +%s) - START)) s. Cold vs warm process: compare the wall column of"
    echo "the -1-cold and -2-warm rows (warm-up = process start to steady state); steady-state"
    echo "medians are in each log. Kernel cache files after the run: $(cache_files)."
} >>"$SUMMARY"
du -sh "$IDC_KERNEL_CACHE" >>"$OUT/kernel-cache-size.txt" 2>&1
# The kernel cache goes back too (a later call carries it as $BIN_DIR/kernel-cache.tar.xz).
python3 -c "
import sys, tarfile
with tarfile.open(sys.argv[1], 'w:xz') as t:
    t.add(sys.argv[2], arcname='.')" "$OUT/kernel-cache.tar.xz" "$IDC_KERNEL_CACHE" 2>&1 |
    tail -1
cat "$SUMMARY"
rm -rf "$WORK"
