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
from typing import Any, Dict, List

import torch

from .device import choose_device, versions
from .job import Job
from .train import Stepper, build_model, peak_rss_kb, run_precision

# The datasets NiN Lab reads are 28 × 28; batches are resized from there as in training.
SOURCE_SIZE = 28


def measure_throughput(job: Job, steps: int, warmup: int) -> Dict[str, Any]:
    opts = job.options
    choice = choose_device(opts.device, opts.threads, job.train.precision)
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
    times: List[float] = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        stepper.train_step(images, labels, i + 1)  # ends with a host synchronisation
        if i >= warmup:
            times.append(time.perf_counter() - t0)
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
    }
    if choice.backend == "cuda":
        result["peakGpuMB"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return result
