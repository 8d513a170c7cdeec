"""Where the engine computes: CUDA when `torch.cuda.is_available()` (unless told otherwise), else
the CPU with every core the process may use. Debian's torch starts with one intra-op thread, so
the count is always set explicitly. And in what precision (./precision.py): `train.precision`
resolved against this device."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch

from .precision import PrecisionChoice, choose_precision, native_bf16_flags, read_cpu_flags


@dataclass
class DeviceChoice:
    device: torch.device
    backend: str  # "cuda" | "cpu": the started message's `backend`
    name: str
    threads: int
    precision: PrecisionChoice

    @property
    def amp_dtype(self) -> Optional[torch.dtype]:
        """The autocast dtype; None: full float32."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision.name)


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask; containers often restrict it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def cuda_capability(index: int = 0) -> Tuple[int, int]:
    major, minor = torch.cuda.get_device_capability(index)
    return int(major), int(minor)


def choose_device(requested: str, threads: Optional[int], precision: str = "auto") -> DeviceChoice:
    """Picks the device, sets the thread count and resolves `precision` (auto, fp32, bf16,
    fp16) for that device. `requested` is auto, cpu or cuda; asking for cuda where there is none
    is an error rather than a silent, 50× slower CPU run, and so is a precision the device cannot
    train in (PrecisionError)."""
    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise RuntimeError("CUDA was requested but torch.cuda.is_available() is False")
    n = threads if threads and threads > 0 else usable_cores()
    torch.set_num_threads(n)
    if requested != "cpu" and cuda:
        # Fixed input shapes: let cuDNN pick the fastest algorithms once per shape.
        torch.backends.cudnn.benchmark = True
        choice = choose_precision(precision, "cuda", capability=cuda_capability())
        return DeviceChoice(torch.device("cuda"), "cuda", torch.cuda.get_device_name(0), n, choice)
    choice = choose_precision(precision, "cpu", flags=read_cpu_flags())
    return DeviceChoice(torch.device("cpu"), "cpu", cpu_name(), torch.get_num_threads(), choice)


def versions(choice: Optional[DeviceChoice] = None) -> Dict[str, str]:
    out = {"torch": torch.__version__, "python": platform.python_version()}
    if choice is not None and choice.backend == "cuda":
        out["cuda"] = str(torch.version.cuda)
        cudnn = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
        if cudnn is not None:
            out["cudnn"] = str(cudnn)
    return out


def probe() -> Dict[str, object]:
    """What `trainer.py --probe` prints: enough for the core to pick an engine and say why."""
    cuda = torch.cuda.is_available()
    gpus = []
    if cuda:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(
                {"index": index, "name": props.name, "memoryMB": round(props.total_memory / 2**20)}
            )
    return {
        "torch": torch.__version__,
        "cuda": cuda,
        "gpus": gpus,
        "device": torch.cuda.get_device_name(0) if cuda else cpu_name(),
        "threads": usable_cores(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "cudaMemory": cuda_memory() if cuda else None,
        "precision": probe_precision(cuda),
    }


def probe_precision(cuda: bool) -> Dict[str, object]:
    """What `train.precision: auto` resolves to here (on CUDA device 0 when there is one, as a
    run on `device: auto` trains), and the hardware facts behind it."""
    flags = native_bf16_flags(read_cpu_flags())
    capability = list(cuda_capability()) if cuda else None
    auto = choose_precision("auto", "cuda" if cuda else "cpu", flags=flags, capability=capability)
    return {
        "auto": auto.name,
        "reason": auto.reason,
        "cpuBf16": list(flags),
        "cudaCapability": capability,
    }


def cuda_memory() -> Optional[Dict[str, int]]:
    """Free and total memory of CUDA device 0 (cudaMemGetInfo: counts every process's use), for
    the memory check before a run (src/trainer/engines/memory.ts); None where torch lacks it."""
    try:
        free, total = torch.cuda.mem_get_info(0)
    except (AttributeError, RuntimeError):
        return None
    return {"freeBytes": int(free), "totalBytes": int(total)}
