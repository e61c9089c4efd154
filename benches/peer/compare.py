#!/usr/bin/env python3
"""Runs our benches and their PyTorch peers alternately, same thread count, and prints the ratios.

    python benches/peer/compare.py --threads 2 --rounds 2 [--iters 3] [--skip swinir-light]

Our binaries come from `--bin NAME=PATH` or else from `cargo bench --no-run
--message-format=json` (which builds them if they are stale). Each round runs, per bench, ours
then PyTorch (the order flips every round, so a drift in the machine's load hits both sides);
the table gives the median over rounds (the mean of the middle two for an even count) of each
side and of the per-round ratio, and every round's ratio. Rows are paired
by their label (and column, for the `swinir` table). Needs only the standard library; the
PyTorch side runs under `--python` (default: this interpreter).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCHES = ["edsr", "swinir", "condense_step"]


def find_binaries(names):
    cmd = ["cargo", "bench", "--no-run", "--message-format=json"]
    for name in names:
        cmd += ["--bench", name]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        msg = json.loads(line)
        target = msg.get("target", {})
        if msg.get("reason") == "compiler-artifact" and "bench" in target.get("kind", []):
            found[target["name"]] = msg["executable"]
    return found


def parse_table(text):
    """`{pass: ms}` from the markdown table in `text`: every cell under a header containing the
    word "ms"; the pass is the row label, followed by ": column" unless the column is a median."""
    lines = [l.strip() for l in text.splitlines() if l.strip().startswith("|")]
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines]
    header, rows = cells[0], cells[2:]
    cols = [i for i, h in enumerate(header) if i > 0 and "ms" in h.split()]
    out = {}
    for row in rows:
        for i in cols:
            try:
                ms = float(row[i])
            except (ValueError, IndexError):
                continue
            col = header[i].removesuffix(" ms")
            name = row[0] if col.startswith("median") else f"{row[0]}: {col}"
            out[name] = ms
    return out


def run(cmd, env):
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, help="IDC_BENCH_ITERS for both sides (default: each bench's)")
    ap.add_argument("--benches", default=",".join(BENCHES))
    ap.add_argument("--skip", default="", help="swinir networks to leave out, e.g. swinir-light")
    ap.add_argument("--bin", action="append", default=[], metavar="NAME=PATH",
                    help="our bench binary (default: found with cargo bench --no-run)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch and basicsr")
    args = ap.parse_args()
    names = [b for b in args.benches.split(",") if b]
    bins = dict(b.split("=", 1) for b in args.bin)
    missing = [n for n in names if n not in bins]
    if missing:
        bins.update(find_binaries(missing))

    n = str(args.threads)
    env = dict(os.environ, RAYON_NUM_THREADS=n, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n,
               IDC_BENCH_SKIP=args.skip)
    env.setdefault("IDC_BENCH_ROUNDS", "1")  # condense_step's inner rounds: ours are these
    if args.iters:
        env["IDC_BENCH_ITERS"] = str(args.iters)
    torch_version = run([args.python, "-c", "import torch; print(torch.__version__)"], env).strip()
    commit = run(["git", "rev-parse", "--short", "HEAD"], env).strip()
    dirty = " (+ uncommitted changes)" if run(["git", "status", "--porcelain"], env).strip() else ""
    print(f"commit {commit}{dirty}; PyTorch {torch_version}; {cpu_model()}; {args.threads} threads "
          f"(RAYON_NUM_THREADS / torch.set_num_threads, interop 1); {args.rounds} rounds; "
          f"IDC_BENCH_ITERS={env.get('IDC_BENCH_ITERS', 'default')}")
    print()
    for name in names:
        before = loadavg()
        sides = {
            "ours": [bins[name]],
            "theirs": [args.python, os.path.join(HERE, "peer.py"), "--bench", name,
                       "--threads", n],
        }
        results = {"ours": [], "theirs": []}
        for r in range(args.rounds):
            order = ["ours", "theirs"] if r % 2 == 0 else ["theirs", "ours"]
            for side in order:
                results[side].append(parse_table(run(sides[side], env)))
        after = loadavg()
        print(f"### {name} (load average before {before}, after {after})")
        print()
        print("| pass | ours ms | PyTorch ms | ours / PyTorch | per round |")
        print("|---|---:|---:|---:|---|")
        for label in results["ours"][0]:
            if label not in results["theirs"][0]:
                continue
            ours = [r[label] for r in results["ours"]]
            theirs = [r[label] for r in results["theirs"]]
            ratios = [o / t for o, t in zip(ours, theirs)]
            print(f"| {label} | {statistics.median(ours):.1f} | {statistics.median(theirs):.1f} "
                  f"| {statistics.median(ratios):.2f} | {', '.join(f'{r:.2f}' for r in ratios)} |")
        print(flush=True)


if __name__ == "__main__":
    main()
