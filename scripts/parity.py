#!/usr/bin/env python3
"""bf16 against fp32 on the torch engine, stated statistically (issue 21, item 3).

    .venv/bin/python scripts/parity.py [--seeds 10] [--epochs 5] [--preset small-28]
                                       [--data-dir DIR] [--out bench/results/parity.json]

For each seed, trains the preset on the full Fashion-MNIST split (60,000 / 10,000) once in fp32
and once in bf16 — the same seed, so the same initial weights, batches and dropout masks — with
the real `nin-lab run` (the built CLI; `npm run build` first), one run after the other with every
core. Then the paired differences d = bf16 − fp32 of the final test accuracy: their mean, the
95% confidence interval of the mean (Student's t with n − 1 degrees of freedom: scipy), the
standard deviation, and a Wilcoxon signed-rank test as a check that does not assume normality.
Parity holds when the whole interval lies within ±1 percentage point. Prints a Markdown table
and the verdict, and writes everything to --out.

Cost on a 2-core CPU: small-28, 5 epochs, 10 seed pairs is 20 runs × 300,000 images; at the
engine's ~1,500 images/s on a quiet machine that is about an hour (it says so before starting,
and per run as it goes). The supporting d2l-96 evidence: `--preset d2l-96 --seeds 3 --epochs 3`
(6 runs × 180,000 images at ~250 images/s: about 75 minutes). Resumable across sittings: finished
runs are read back from the data folder by name, and a run stopped mid-way (Ctrl-C, a killed
process, the end of a session) is resumed from its last epoch checkpoint, so a second invocation
continues where one stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CLI = os.path.join(ROOT, "bin", "nin-lab.mjs")
MARGIN = 0.01  # ±1 percentage point


def run_name(preset: str, precision: str, seed: int, epochs: int) -> str:
    return f"parity-{preset}-{precision}-e{epochs}-s{seed}"


def existing(data_dir: str, name: str) -> Optional[Dict[str, Any]]:
    """The newest run of that name in the data folder (`ls --json`), if any."""
    r = subprocess.run(
        ["node", CLI, "ls", "--json", "--data-dir", data_dir], capture_output=True, text=True
    )
    if r.returncode != 0:
        return None
    runs = [run for run in json.loads(r.stdout or "[]") if run.get("name") == name]
    # A completed one if there is one, else the newest (ISO 8601 times sort as text).
    runs.sort(key=lambda run: (run.get("status") == "completed", run.get("createdAt") or ""))
    return runs[-1] if runs else None


def train(args: argparse.Namespace, precision: str, seed: int) -> float:
    """The run's final test accuracy: read back when it finished in an earlier invocation,
    resumed from its last epoch checkpoint when an earlier invocation was stopped mid-run (the
    study spans sittings), else trained."""
    name = run_name(args.preset, precision, seed, args.epochs)
    found = existing(args.data_dir, name)
    if found is not None and found.get("status") == "completed":
        acc = float(found["finalTestAcc"])
        print(f"  {name}: {acc:.4f} (already trained)", flush=True)
        return acc
    started = time.time()
    if found is not None and found.get("status") not in ("failed", "diverged"):
        # Stopped or killed with the sitting: continue from its last checkpoint.
        cmd = ["node", CLI, "run", "--resume", str(found["id"]), "--json"]
        cmd += ["--data-dir", args.data_dir]
        how = f"resumed {found['id']}"
    else:
        sets = [
            f"name={json.dumps(name)}",
            'engine="torch"',
            f'train.precision="{precision}"',
            f"train.seed={seed}",
            f"train.epochs={args.epochs}",
        ]
        cmd = ["node", CLI, "run", "--preset", args.preset, "--json", "--data-dir", args.data_dir]
        for s in sets:
            cmd += ["--set", s]
        how = "trained"
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    # `run --json`'s last line is the run with its epochs (src/cli/run-json.ts).
    acc = float(json.loads(r.stdout.strip().splitlines()[-1])["epochs"][-1]["testAcc"])
    print(f"  {name}: {acc:.4f} ({how} in {time.time() - started:.0f} s)", flush=True)
    return acc


def summarise(fp32: List[float], bf16: List[float]) -> Dict[str, Any]:
    from scipy import stats

    d = [b - f for b, f in zip(bf16, fp32)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else float("nan")
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else float("inf")
    wilcoxon_p = float(stats.wilcoxon(d).pvalue) if n > 1 and any(d) else 1.0
    lo, hi = mean - half, mean + half
    return {
        "n": n,
        "differences": d,
        "mean": mean,
        "sd": sd,
        "ci95": [lo, hi],
        "wilcoxonP": wilcoxon_p,
        "parity": -MARGIN <= lo and hi <= MARGIN,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="small-28")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data-dir", default=os.path.join(ROOT, ".nin-lab", "parity"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "parity.json"))
    args = ap.parse_args()
    if not os.path.exists(os.path.join(ROOT, "out", "main", "cli.js")):
        sys.exit("build first: npm run build")
    images = 2 * args.seeds * args.epochs * 60_000
    print(
        f"{args.preset}: {args.seeds} seed pairs × {args.epochs} epochs = {images:,} training "
        f"images (small-28 at ~1,500 images/s on 2 quiet cores: ~{images / 1500 / 60:.0f} min)",
        flush=True,
    )
    fp32: List[float] = []
    bf16: List[float] = []
    for seed in range(args.seeds):
        fp32.append(train(args, "fp32", seed))
        bf16.append(train(args, "bf16", seed))
    s = summarise(fp32, bf16)
    print("\n| seed | fp32 | bf16 | bf16 − fp32 |\n|---:|---:|---:|---:|")
    for i, (f, b) in enumerate(zip(fp32, bf16)):
        print(f"| {i} | {f:.4f} | {b:.4f} | {b - f:+.4f} |")
    lo, hi = s["ci95"]
    print(
        f"\nmean difference {s['mean'] * 100:+.2f} pp, sd {s['sd'] * 100:.2f} pp, 95% CI "
        f"[{lo * 100:+.2f}, {hi * 100:+.2f}] pp (t, n = {s['n']}), Wilcoxon p = "
        f"{s['wilcoxonP']:.3f}"
    )
    print(
        "parity HOLDS: the interval lies within ±1 pp"
        if s["parity"]
        else "parity NOT shown: the interval reaches beyond ±1 pp — `precision: auto` must stay "
        "fp32 (or say that bf16 is unproven) on this evidence"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(
            {"preset": args.preset, "epochs": args.epochs, "fp32": fp32, "bf16": bf16, **s},
            f,
            indent=1,
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
