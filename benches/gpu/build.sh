#!/usr/bin/env bash
# Builds the binaries benches/gpu/run.sh runs on a GPU machine, stripped and xz-compressed into
# <repo>/target/gpu-bin/<name>.xz (ignored by git; pass it to the device as a carried path).
# Needs the CUDA-enabled build to compile here (no GPU needed). Set CARGO_TARGET_DIR as usual;
# IDC_GPU_ONLY="edsr swinir" re-packs only those names.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEST="$ROOT/target/gpu-bin"
mkdir -p "$DEST"
LOG="$(mktemp)"

# Executables from cargo's JSON messages: "<target name> <path>" per line.
executables() {
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])
'
}

benches=(edsr condense_step condense_throughput swinir)
args=()
for b in "${benches[@]}"; do args+=(--bench "$b"); done
cargo bench --features cuda --no-run "${args[@]}" --message-format=json >"$LOG"
executables <"$LOG" >"$LOG.exe"
# Release like the benches: it reuses their dependency build (the dev profile would compile every
# dependency again, ~15 more minutes on 2 cores).
cargo test --release --features cuda --no-run --lib --message-format=json | executables |
    sed 's/^burn_idc /lib_tests /' >>"$LOG.exe"

while read -r name path; do
    [ -z "${IDC_GPU_ONLY:-}" ] || [[ " $IDC_GPU_ONLY " == *" $name "* ]] || continue
    strip -o "$DEST/$name" "$path"
    xz -9 -T2 -f "$DEST/$name"
    ls -l "$DEST/$name.xz"
done <"$LOG.exe"
du -sh "$DEST"
