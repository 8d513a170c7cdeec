#!/usr/bin/env python3
"""NiN Lab's PyTorch trainer: trains one run and streams the same typed messages as the
TensorFlow.js trainer (src/shared/protocol/trainer.ts), one JSON object per line on stdout.
Everything else (warnings, framework noise) goes to stderr. Needs PyTorch and nothing else.

  trainer.py --job JOB.json [--device auto|cpu|cuda] [--threads N] [--precision P] [--cache FILE]
      Train. Exit 0 after a terminal message (finished, cancelled, diverged), 1 after
      `failed`, 2 when the job cannot be read, 3 when the parent process is gone.
  trainer.py --probe
      One JSON line {"torch", "cuda", "device", "threads", ...}; exit 0, or 1 (with "error")
      when torch cannot be imported.
  trainer.py --probe --then-job
      The probe line, then one line on stdin: a job file's path, trained as `--job` would (same
      messages, same exit codes), or nothing (end of input: exit 0). The parent learns what this
      Python offers and gets its trainer from one process, importing torch once.
  trainer.py --params JOB.json [JOB.json ...]
      One JSON line per file, {"params": N, "layers": [{name, type, params}]}: the torch model
      built from the file's `layers` (checked against the table row by row).
  trainer.py --bench JOB.json [--steps 5] [--warmup 2]
      `RESULT {json}` with imgPerS, medianStepS, params, peakRssMB (random data).

SIGTERM or SIGINT: stop before the next step with a `cancelled` message. When the parent process
dies the trainer exits too (code 3), unless started with --no-parent-watch. See README.md for the
job format.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, TextIO

# Run as a script: the package sits beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nin_torch.protocol import Channel, ParentGone, protocol_stream  # noqa: E402

EXIT_FAILED = 1
EXIT_BAD_JOB = 2
EXIT_PARENT_GONE = 3


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--job", metavar="JOB.json", help="train the run this job describes")
    mode.add_argument("--probe", action="store_true", help="print torch/CUDA/threads and exit")
    mode.add_argument(
        "--params", metavar="JOB.json", nargs="+", help="print each model's parameter count"
    )
    mode.add_argument("--bench", metavar="JOB.json", help="measure training throughput")
    ap.add_argument("--steps", type=int, default=5, help="--bench: timed steps (default 5)")
    ap.add_argument("--warmup", type=int, default=2, help="--bench: warm-up steps (default 2)")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="--bench: also measure peak memory of one prediction and one training step",
    )
    ap.add_argument(
        "--then-job",
        action="store_true",
        help="--probe: then read a job file's path on stdin and train it (end of input: exit)",
    )
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides job.torch.device")
    ap.add_argument("--threads", type=int, help="CPU threads (default: all usable cores)")
    ap.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="overrides config.train.precision (auto: nin_torch/precision.py says what it picks)",
    )
    ap.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None)
    ap.add_argument("--cache", metavar="FILE", help="dataset cache file (overrides the job's)")
    ap.add_argument(
        "--no-parent-watch",
        dest="parent_watch",
        action="store_false",
        help="keep training when the parent process exits (nohup on a server)",
    )
    args = ap.parse_args(argv)
    if args.then_job and not args.probe:
        ap.error("--then-job goes with --probe")
    return args


def die_with_parent() -> None:
    """On Linux, ask the kernel to kill this process the moment its parent dies
    (PR_SET_PDEATHSIG). A parent killed with SIGKILL cannot clean up, and a scheduler that resumes
    the run at once must not find the orphan still writing checkpoints into the same folder; the
    once-a-second watch below covers other systems."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def watch_parent(on_gone: Callable[[], None]) -> None:
    """Calls on_gone when this process is re-parented (its parent died), checked every second:
    the tfjs trainer's rule, so no orphaned trainer keeps a GPU busy."""
    parent = os.getppid()

    def loop() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                on_gone()

    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def load_job(path: str, args: argparse.Namespace, need_run: bool) -> Any:
    from nin_torch.job import read_job

    job = read_job(path, need_run)
    if args.device is not None:
        job.options.device = args.device
    if args.threads is not None:
        job.options.threads = args.threads
    if args.precision is not None:
        job.train.precision = args.precision
    if args.channels_last is not None:
        job.options.channels_last = args.channels_last
    if args.cache is not None:
        job.cache_file = os.path.abspath(args.cache)
    return job


def run_probe(out: TextIO) -> int:
    try:
        from nin_torch.device import probe
    except Exception as err:  # torch missing or broken: say so in the one line
        info: Dict[str, Any] = {"torch": None, "cuda": False, "device": None, "threads": None}
        info["error"] = f"{type(err).__name__}: {err}"
        info["executable"] = sys.executable
        out.write(json.dumps(info) + "\n")
        return 1
    out.write(json.dumps(probe()) + "\n")
    return 0


def warm_up_training() -> None:
    """What every run pays before its first step, paid while the parent still prepares the data:
    the training modules, and the first optimizer (its constructor imports torch._dynamo, about a
    second on a CPU). Best effort: whatever fails here fails again in the job, where it becomes
    the run's `failed` message instead of a crash."""
    try:
        import torch

        from nin_torch import train  # noqa: F401

        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    except Exception:  # noqa: BLE001 - reported by the job itself
        pass


def read_job_path(stdin: TextIO) -> Optional[str]:
    """--then-job: the job file's path, one line on stdin; None at the end of input (the parent
    chose another engine, or the run ended before it started)."""
    line = stdin.readline()
    path = line.strip()
    return path or None


def run_params(paths: List[str], out: TextIO) -> int:
    from nin_torch.job import read_json_file
    from nin_torch.network import NinNetwork

    for path in paths:
        raw = read_json_file(path)
        layers = raw.get("layers") if isinstance(raw, dict) else None
        # NinNetwork validates the table first and names what is wrong with it (None included).
        model = NinNetwork(layers)  # type: ignore[arg-type]
        model.check_against_table()
        line = {"params": model.count_params(), "layers": model.layer_params()}
        out.write(json.dumps(line) + "\n")
    return 0


def run_bench(path: str, args: argparse.Namespace, out: TextIO) -> int:
    from nin_torch.bench import measure_throughput

    job = load_job(path, args, need_run=False)
    result = measure_throughput(job, steps=args.steps, warmup=args.warmup, memory=args.memory)
    out.write("RESULT " + json.dumps(result) + "\n")
    return 0


def describe_error(err: BaseException) -> str:
    """The `failed` message's text: our own errors are worded for the user already; anything
    else (a torch RuntimeError, a bug) keeps its type name for the log."""
    from nin_torch.checkpoint import CheckpointError
    from nin_torch.data import DataError
    from nin_torch.network import LayerTableError
    from nin_torch.precision import PrecisionError

    if isinstance(err, (DataError, CheckpointError, LayerTableError, PrecisionError)):
        return str(err)
    return f"{type(err).__name__}: {err}"


def run_job(path: str, args: argparse.Namespace, channel: Channel) -> int:
    """Trains; every outcome, including a crash, ends in exactly one terminal message."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        job = load_job(path, args, need_run=True)
    except Exception as err:
        channel.send({"type": "failed", "error": f"cannot read the job: {err}"})
        return EXIT_BAD_JOB
    channel.run_id = job.run_id
    try:
        from nin_torch.train import train_run

        final = train_run(job, channel, stop.is_set)
    except ParentGone:
        raise
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        channel.send({"type": "failed", "error": describe_error(err)})
        return EXIT_FAILED
    channel.send(final)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out = protocol_stream()  # from here on, stdout (fd 1) is stderr
    if args.parent_watch:
        die_with_parent()
        watch_parent(lambda: os._exit(EXIT_PARENT_GONE))
    try:
        if args.probe and args.then_job:
            code = run_probe(out)
            out.flush()
            if code != 0:
                return code
            warm_up_training()
            path = read_job_path(sys.stdin)
            return 0 if path is None else run_job(path, args, Channel(out))
        if args.probe:
            return run_probe(out)
        if args.params:
            return run_params(args.params, out)
        if args.bench:
            return run_bench(args.bench, args, out)
        return run_job(args.job, args, Channel(out))
    except ParentGone:
        return EXIT_PARENT_GONE
    except (OSError, ValueError) as err:  # --params / --bench: an unreadable or invalid file
        print(f"trainer.py: {err}", file=sys.stderr)
        return EXIT_BAD_JOB
    finally:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            pass


if __name__ == "__main__":
    # os._exit skips interpreter teardown: torch's worker threads cannot delay the exit.
    code = main()
    sys.stderr.flush()
    os._exit(code)
