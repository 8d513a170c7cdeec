"""Where the engine computes: CUDA when `torch.cuda.is_available()` (unless told otherwise), else
the CPU with every core the process may use. Debian's torch starts with one intra-op thread, so
the count is always set explicitly."""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from typing import Dict, Optional

import torch


@dataclass
class DeviceChoice:
    device: torch.device
    backend: str  # "cuda" | "cpu": the started message's `backend`
    name: str
    threads: int
    amp_dtype: Optional[torch.dtype]  # None: full float32


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


def choose_device(requested: str, threads: Optional[int], amp: bool) -> DeviceChoice:
    """Picks the device and sets the thread count. `requested` is auto, cpu or cuda; asking for
    cuda where there is none is an error rather than a silent, 50× slower CPU run."""
    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise RuntimeError("CUDA was requested but torch.cuda.is_available() is False")
    n = threads if threads and threads > 0 else usable_cores()
    torch.set_num_threads(n)
    if requested != "cpu" and cuda:
        # Fixed input shapes: let cuDNN pick the fastest algorithms once per shape.
        torch.backends.cudnn.benchmark = True
        amp_dtype: Optional[torch.dtype] = None
        if amp:
            # bfloat16 keeps float32's range (no loss scaling needed) where the GPU has it.
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return DeviceChoice(
            torch.device("cuda"), "cuda", torch.cuda.get_device_name(0), n, amp_dtype
        )
    return DeviceChoice(torch.device("cpu"), "cpu", cpu_name(), torch.get_num_threads(), None)


def versions(choice: Optional[DeviceChoice] = None) -> Dict[str, str]:
    out = {"torch": torch.__version__, "python": platform.python_version()}
    if choice is not None and choice.backend == "cuda":
        out["cuda"] = str(torch.version.cuda)
        cudnn = torch.backends.cudnn.version()
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
    }


def cuda_memory() -> Optional[Dict[str, int]]:
    """Free and total memory of CUDA device 0 (cudaMemGetInfo: counts every process's use), for
    the memory check before a run (src/trainer/engines/memory.ts); None where torch lacks it."""
    try:
        free, total = torch.cuda.mem_get_info(0)
    except (AttributeError, RuntimeError):
        return None
    return {"freeBytes": int(free), "totalBytes": int(total)}
