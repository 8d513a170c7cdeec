"""`trainer.py --bench JOB.json`: training throughput of one config, mirroring the tfjs engine's
bench (src/trainer/engines/tfjs/throughput.ts) and the plain PyTorch peer that `npm run bench`
runs beside both ($NIN_LAB_PEER): the median time of real training steps on random data,
after warm-up steps. The steps are the trainer's own (`Stepper.train_step`): a uint8 batch at the
dataset's 28 px gathered and resized on the device, channels-last, seeded dropout, the optimiser
step and the one host synchronisation — so the number includes what the wrapper costs.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Dict, List

import torch

from .compile import check_compile, torch_has_compile
from .device import choose_device, versions
from .job import Job
from .train import Stepper, build_model, machine_load, peak_rss_kb, run_precision

# The datasets NiN Lab reads are 28 × 28; batches are resized from there as in training.
SOURCE_SIZE = 28


def rss_now_bytes() -> int:
    """The process's resident memory now (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_kb() * 1024


def peak_of(choice: Any, fn: Callable[[], Any], base: int) -> int:
    """Peak memory while `fn` runs: the CUDA allocator's peak on a GPU; on the CPU (torch keeps
    no allocator statistics there) the process's peak resident memory after the call above
    `base`, its resident memory before the model was built: an upper bound that includes the
    allocator's caching and anything an earlier call left at a higher peak."""
    if choice.backend == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
    fn()
    return max(0, max(peak_rss_kb() * 1024, rss_now_bytes()) - base)


def measure_memory(
    choice: Any, stepper: Stepper, images: torch.Tensor, labels: torch.Tensor, base: int
) -> Dict[str, Any]:
    """BenchMemory (src/shared/protocol/bench.ts): peaks of one prediction, one training step."""

    def predict() -> None:
        stepper.eval_batch(images, labels)

    return {
        "source": "cuda-allocator" if choice.backend == "cuda" else "rss",
        "predictPeakBytes": peak_of(choice, predict, base),
        "trainPeakBytes": peak_of(choice, lambda: stepper.train_step(images, labels, 1), base),
    }


def eager_step(stepper: Stepper, images: torch.Tensor, labels: torch.Tensor, step: int) -> float:
    """One training step of a compiled stepper's model without the compiled wrapper: seconds."""
    compiled_net = stepper.net
    stepper.net = stepper.model
    try:
        t0 = time.perf_counter()
        stepper.train_step(images, labels, step)
        return time.perf_counter() - t0
    finally:
        stepper.net = compiled_net


def measure_throughput(job: Job, steps: int, warmup: int, memory: bool = False) -> Dict[str, Any]:
    opts = job.options
    choice = choose_device(opts.device, opts.threads, job.train.precision)
    # What the process holds before the network exists (interpreter, torch): not the model's.
    base_rss = rss_now_bytes()
    model = build_model(job, choice)
    precision = run_precision(choice, model)
    stepper = Stepper(job, model, choice)
    batch = job.train.batch_size
    gen = torch.Generator().manual_seed(job.train.seed)
    channels = int(job.layers[0]["inputShape"][0])
    images = torch.randint(
        0, 256, (batch, channels, SOURCE_SIZE, SOURCE_SIZE), dtype=torch.uint8, generator=gen
    )
    labels = torch.randint(0, job.num_classes, (batch,), generator=gen)
    images, labels = images.to(choice.device), labels.to(choice.device)
    # Prediction first, before any step has allocated gradients and optimizer state.
    measured = measure_memory(choice, stepper, images, labels, base_rss) if memory else None
    # train.compile on: compiled from the first step, whose wait for the compiler is reported
    # apart (compileSeconds: the first step's excess over the median compiled step). auto
    # compiles only for runs long enough to pay (./compile.py), which a bench never is.
    compiled = job.train.compile == "on"
    if compiled:
        check_compile(
            "on", torch.__version__, torch_has_compile(torch.__version__, hasattr(torch, "compile"))
        )
        stepper.compile()
    times: List[float] = []
    eager_times: List[float] = []
    first = 0.0
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        stepper.train_step(images, labels, i + 1)  # ends with a host synchronisation
        if i == 0:
            first = time.perf_counter() - t0
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            if compiled:  # the same step uncompiled, interleaved: the saving in one sitting
                eager_times.append(eager_step(stepper, images, labels, i + 1))
    med = statistics.median(times)
    result: Dict[str, Any] = {
        "engine": "torch",
        "backend": choice.backend,
        "device": choice.name,
        "threads": choice.threads,
        "versions": versions(choice),
        "precision": precision.name,
        "precisionReason": precision.reason,
        "channelsLast": opts.channels_last,
        "inputSize": job.input_size,
        "batch": batch,
        "params": model.count_params(),
        "stepTimesS": [round(t, 4) for t in times],
        "medianStepS": round(med, 4),
        "imgPerS": round(batch / med, 2),
        "peakRssMB": round(peak_rss_kb() / 1024),
        "load": machine_load(),
    }
    if compiled:
        result["compiled"] = True
        result["compileSeconds"] = round(max(0.0, first - med), 2)
        result["eagerMedianStepS"] = round(statistics.median(eager_times), 4)
    if measured is not None:
        result["memory"] = measured
    if choice.backend == "cuda":
        result["peakGpuMB"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return result
