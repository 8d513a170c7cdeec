"""`train.compile`: whether a run's network goes through `torch.compile`, and why. Pure rules
over numbers the trainer measures, so they can be checked with made-up numbers on any machine
(tests/test_compile.py).

- off: eager PyTorch, as every run before this option.
- on: `torch.compile` (TorchInductor). Needs PyTorch 2; the first step of each mode (training,
  evaluation) waits for the compiler, and the run reports how long that took.
- auto: compile only where it has been measured to pay for itself within the run. The trainer
  takes a few eager steps first, then projects the rest of the run; it compiles when the time
  the compiled steps are expected to save is at least twice what compiling is expected to cost.
  The expectations are measurements (COMPILE_EVIDENCE); where there is none (a CUDA GPU: none
  was measured yet), auto stays eager and says so.

Compiling never changes what a run trains beyond float rounding (the same network, weights,
batches and dropout masks), so it is an engine option, not part of a run's identity beyond the
config field itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

COMPILE_CHOICES = ("auto", "on", "off")
# Eager steps `auto` measures before it decides (the first one pays one-off warm-up costs).
AUTO_PROBE_STEPS = 4
# auto compiles when the projected saving is at least this many times the compile cost.
PAYBACK_FACTOR = 2.0


@dataclass(frozen=True)
class CompileEvidence:
    """What compiling cost and saved where it was measured (docs/engines.md has the sittings)."""

    compile_seconds: float  # first compiled training step + first evaluation batch, minus eager
    step_saving: float  # 1 − compiled step time / eager step time (may be ≤ 0: no gain)
    measured: str  # where and how, in words


# Measured per backend; docs/engines.md ("torch.compile") has the sittings. Only the CPU has
# been measured: a cold compile of d2l-96 took 278–398 s (149 s with part of Inductor's cache
# warm), and the compiled step saved at most 5% (bf16; fp32 0%), on a shared machine where that
# is within the noise. So auto compiles a CPU run only when it is hours long.
COMPILE_EVIDENCE: Mapping[str, CompileEvidence] = {
    "cpu": CompileEvidence(
        compile_seconds=300.0,
        step_saving=0.05,
        measured="PyTorch 2.15, 2-core AMD EPYC, d2l-96 batch 128, the best of bf16 and fp32",
    )
}


class CompileError(ValueError):
    """A compile setting this PyTorch cannot honour; the message says what to choose instead."""


@dataclass(frozen=True)
class CompileChoice:
    enabled: bool
    reason: str  # logged, and the started message's compileReason


def torch_has_compile(version: str, has_attr: bool) -> bool:
    """Whether this PyTorch has a working `torch.compile` (2.0 and later)."""
    major = version.split(".", 1)[0]
    return has_attr and major.isdigit() and int(major) >= 2


def check_compile(requested: str, torch_version: str, has_compile: bool) -> Optional[CompileChoice]:
    """The choice when it needs no measurement (on, off, or a PyTorch without compile), else None
    (auto decides after its probe steps: `decide_auto`). Raises CompileError for `on` where
    PyTorch cannot compile."""
    if requested not in COMPILE_CHOICES:
        raise CompileError(
            f"train.compile must be one of {', '.join(COMPILE_CHOICES)} (got {requested!r})"
        )
    if requested == "off":
        return CompileChoice(False, "off, as asked")
    if not has_compile:
        if requested == "on":
            raise CompileError(
                f"train.compile on needs PyTorch 2 (torch.compile); this is PyTorch "
                f"{torch_version}: set train.compile to auto or off, or install the pinned "
                "PyTorch (README, 'PyTorch')"
            )
        return CompileChoice(False, f"auto: eager (PyTorch {torch_version} has no torch.compile)")
    if requested == "on":
        return CompileChoice(True, "on, as asked (torch.compile, TorchInductor)")
    return None


def decide_auto(
    backend: str,
    eager_step_seconds: float,
    remaining_steps: int,
    evidence: Mapping[str, CompileEvidence] = COMPILE_EVIDENCE,
) -> CompileChoice:
    """auto's decision after its probe steps: compile when the steps left, at the measured eager
    step time, would save at least PAYBACK_FACTOR × the compile time measured on this backend."""
    known = evidence.get(backend)
    if known is None:
        return CompileChoice(
            False,
            f"auto: eager (compiling has not been measured on {backend} yet, so it is not known to "
            "pay; train.compile on tries it)",
        )
    eager_left = eager_step_seconds * remaining_steps
    saving = eager_left * known.step_saving
    worth = saving >= PAYBACK_FACTOR * known.compile_seconds
    how = (
        f"{remaining_steps:,} steps left at {eager_step_seconds:.3f} s ≈ {eager_left / 60:.1f} min "
        f"eager; compiling costs ~{known.compile_seconds:.0f} s and saves "
        f"{known.step_saving * 100:.0f}% a step here ({known.measured})"
    )
    if worth:
        return CompileChoice(True, f"auto: compiled ({how})")
    return CompileChoice(False, f"auto: eager ({how}: it would not pay back twice)")
