"""`train.precision`: what a run computes in, and why. Pure rules over what the hardware says
(the CPU's flags, the CUDA device's compute capability), so they can be checked with made-up
answers on any machine (tests/fixtures/torch/precision_probe.py).

- fp32: float32 throughout.
- bf16: autocast to bfloat16 (convolutions and matrix products in bf16, accumulated in fp32),
  with fp32 master weights, gradients and optimizer state. bfloat16 keeps float32's exponent
  range, so no loss scaling is needed.
- fp16: autocast to float16 with a GradScaler (float16's range is too small for small
  gradients). CUDA only: PyTorch's CPU autocast has no float16.
- auto: bf16 where the hardware runs it natively — a CPU with AVX512_BF16 or AMX-BF16 (the
  `avx512_bf16` / `amx_bf16` flags of /proc/cpuinfo), a CUDA device of compute capability 8.0 or
  later (Ampere on) — else fp32 (elsewhere bf16 is emulated and slower than fp32); but fp32
  everywhere while the parity study has not shown bf16 within ±1 pp of fp32 (BF16_PARITY: it
  did not).

Under bf16 on the CPU, strided convolutions stay float32 (`fp32_layers`): see there why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# /proc/cpuinfo flags of CPUs that compute bfloat16 dot products in hardware.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# bfloat16 tensor cores arrived with Ampere (sm_80).
CUDA_BF16_CAPABILITY = (8, 0)


class PrecisionError(ValueError):
    """A precision this device cannot train in; the message says what to choose instead."""


@dataclass(frozen=True)
class PrecisionChoice:
    name: str  # "fp32" | "bf16" | "fp16": what the run computes in (the started message's)
    reason: str  # why, in words (logged, and the started message's precisionReason)

    @property
    def autocast(self) -> bool:
        return self.name != "fp32"


def cpu_flags(cpuinfo: str) -> Tuple[str, ...]:
    """The flags of the first `flags` line of /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return tuple(line.split(":", 1)[1].split())
    return ()


def read_cpu_flags(path: str = "/proc/cpuinfo") -> Tuple[str, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return cpu_flags(f.read())
    except OSError:  # not Linux: no flags known, so no native bf16 assumed
        return ()


@dataclass(frozen=True)
class ParityEvidence:
    """What scripts/parity.py found: whether the 95% CI of bf16's mean paired difference from
    fp32 in final test accuracy lies within ±1 percentage point, and the numbers, in words."""

    shown: bool
    summary: str


# Issue 21 asks for bf16's final test accuracy within ±1 percentage point of fp32 (95% CI of the
# paired difference, small-28, full Fashion-MNIST, 5 epochs, 10 seeds): scripts/parity.py
# measures it. Until it has run (None) `auto` picks bf16 where it is native and says parity is not
# yet shown; where the study did not show parity, `auto` stays fp32 and says why (bf16 remains
# one setting away). docs/engines.md has the evidence.
# Measured 2026-12-08 (docs/engines.md, README "Precision"): in three seeds of ten one precision
# left the ln 10 plateau much later than the other (seeds 0 and 5: fp32, 9.3 and 5.9 pp lower;
# seed 8: bf16, 18.5 pp lower), so the interval is wide although 7 of the 10 differences lie
# within ±1 pp.
BF16_PARITY: Optional[ParityEvidence] = ParityEvidence(
    shown=False,
    summary=(
        "bf16 − fp32 −0.08 pp on average, 95% CI −5.22 to +5.07 pp over 10 paired seeds "
        "(small-28, full Fashion-MNIST, 5 epochs, scripts/parity.py)"
    ),
)
PARITY_NOTE = "accuracy parity with fp32 not yet shown (scripts/parity.py); fp32: train.precision"


def _parity_note(parity: Optional[ParityEvidence]) -> str:
    if parity is None:
        return PARITY_NOTE
    return f"accuracy parity with fp32 shown ({parity.summary})"


def _native_but_unproven(where: str, parity: ParityEvidence) -> PrecisionChoice:
    """`auto` where bf16 is native but the parity study did not show it matches fp32."""
    return PrecisionChoice(
        "fp32",
        f"auto: fp32 ({where}, but bf16's accuracy parity with fp32 was not shown: "
        f"{parity.summary}); train.precision bf16 trains faster, to an accuracy that may differ "
        "from fp32's",
    )


def native_bf16_flags(flags: Iterable[str]) -> Tuple[str, ...]:
    have = set(flags)
    return tuple(f for f in CPU_BF16_FLAGS if f in have)


def _capability(cap: Sequence[int]) -> str:
    return f"{cap[0]}.{cap[1]}"


def choose_precision(
    requested: str,
    backend: str,
    flags: Iterable[str] = (),
    capability: Optional[Sequence[int]] = None,
    parity: Optional[ParityEvidence] = BF16_PARITY,
) -> PrecisionChoice:
    """The precision a run on `backend` ("cpu" or "cuda") computes in. `flags` are the CPU's
    (/proc/cpuinfo), `capability` the CUDA device's (major, minor), `parity` what the bf16
    parity study found (BF16_PARITY). Raises PrecisionError for a choice the device cannot
    honour."""
    if requested not in PRECISIONS:
        raise PrecisionError(
            f"train.precision must be one of {', '.join(PRECISIONS)} (got {requested!r})"
        )
    if backend == "cuda":
        cap = tuple(capability) if capability is not None else (0, 0)
        native = cap >= CUDA_BF16_CAPABILITY
        where = f"CUDA capability {_capability(cap)}"
        if requested == "auto":
            if native and parity is not None and not parity.shown:
                return _native_but_unproven(f"{where} ≥ 8.0 has native bf16", parity)
            if native:
                return PrecisionChoice(
                    "bf16", f"auto: bf16 autocast, fp32 master weights ({where} ≥ 8.0: native bf16)"
                )
            return PrecisionChoice(
                "fp32",
                f"auto: fp32 ({where} < 8.0 has no native bf16; train.precision fp16 uses its "
                "float16 units with a grad scaler)",
            )
        if requested == "bf16" and not native:
            raise PrecisionError(
                f"train.precision bf16 needs CUDA capability 8.0 or later (Ampere on); this GPU "
                f"has {_capability(cap)}: use fp16 (with a grad scaler), fp32 or auto"
            )
        if requested == "fp16":
            return PrecisionChoice("fp16", f"fp16 autocast with a grad scaler, as asked ({where})")
        if requested == "bf16":
            return PrecisionChoice(
                "bf16", f"bf16 autocast, fp32 master weights, as asked ({where})"
            )
        return PrecisionChoice("fp32", "fp32, as asked")

    # The CPU.
    native_flags = native_bf16_flags(flags)
    if requested == "fp16":
        raise PrecisionError(
            "train.precision fp16 needs a CUDA GPU: PyTorch's CPU autocast has no float16; "
            "use bf16, fp32 or auto on the CPU"
        )
    if requested == "auto":
        if native_flags and parity is not None and not parity.shown:
            return _native_but_unproven(f"the CPU has {' and '.join(native_flags)}", parity)
        if native_flags:
            return PrecisionChoice(
                "bf16",
                "auto: bf16 autocast, fp32 master weights (the CPU has "
                f"{' and '.join(native_flags)}: native bf16); {_parity_note(parity)}",
            )
        return PrecisionChoice(
            "fp32",
            "auto: fp32 (the CPU has neither avx512_bf16 nor amx_bf16: bf16 would be emulated, "
            "slower than fp32)",
        )
    if requested == "bf16":
        if native_flags:
            return PrecisionChoice(
                "bf16",
                "bf16 autocast, fp32 master weights, as asked "
                f"(native: {' and '.join(native_flags)})",
            )
        return PrecisionChoice(
            "bf16",
            "bf16 autocast, fp32 master weights, as asked; this CPU has neither avx512_bf16 nor "
            "amx_bf16, so bf16 is emulated and likely slower than fp32",
        )
    return PrecisionChoice("fp32", "fp32, as asked")


def fp32_layers(
    layers: Sequence[Mapping[str, Any]], choice: PrecisionChoice, backend: str
) -> Tuple[str, ...]:
    """The conv rows of the layer table that compute in float32 even under autocast: under bf16
    on the CPU, the ones with a stride above 1. oneDNN's bf16 weight gradient of a strided
    convolution is far slower than its float32 one: measured with torch 1.13 (oneDNN 2.6.3, AMX)
    on d2l's 11×11 stride-4 stem at 96 px, batch 128, it took 72 ms a step in bf16 against 11 ms
    in fp32 (the whole step ~10% slower than with that one layer in fp32). Unstrided convolutions
    gain from bf16 there (small-28's 5×5 stem: 42 against 55 ms), so they stay in bf16."""
    if backend != "cpu" or choice.name != "bf16":
        return ()
    return tuple(
        str(row["name"])
        for row in layers
        if row.get("type") == "conv" and int(row.get("stride", 1)) > 1
    )


def with_fp32_layers(choice: PrecisionChoice, names: Sequence[str]) -> PrecisionChoice:
    """`choice` with the layers kept in float32 named in its reason (logged and reported)."""
    if not names:
        return choice
    return PrecisionChoice(
        choice.name,
        f"{choice.reason}; {', '.join(names)} in fp32 (a strided convolution's bf16 weight "
        "gradient is slower than fp32 on the CPU)",
    )
