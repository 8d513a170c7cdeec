"""precision.py: what `train.precision` resolves to on each device, and the layers kept fp32."""

from typing import Any, Dict, List, Tuple

import pytest

from nin_torch.precision import (
    ParityEvidence,
    PrecisionError,
    choose_precision,
    cpu_flags,
    fp32_layers,
    native_bf16_flags,
)


def test_auto_on_a_cpu_follows_its_bf16_flags() -> None:
    # The flag rules, before any parity study (parity=None); what the study changes is below.
    assert choose_precision("auto", "cpu", flags=["avx512_bf16"], parity=None).name == "bf16"
    assert choose_precision("auto", "cpu", flags=["amx_bf16", "avx2"], parity=None).name == "bf16"
    plain = choose_precision("auto", "cpu", flags=["avx2", "avx512f"], parity=None)
    assert plain.name == "fp32" and "emulated" in plain.reason
    # Until scripts/parity.py has shown bf16 within ±1 pp of fp32, auto says so.
    assert (
        "parity with fp32 not yet shown"
        in choose_precision("auto", "cpu", flags=["amx_bf16"], parity=None).reason
    )


def test_auto_on_cuda_follows_the_capability() -> None:
    assert choose_precision("auto", "cuda", capability=[8, 0], parity=None).name == "bf16"
    assert choose_precision("auto", "cuda", capability=[7, 5]).name == "fp32"


def test_impossible_requests_are_refused_with_the_fix() -> None:
    with pytest.raises(PrecisionError, match="fp16 needs a CUDA GPU"):
        choose_precision("fp16", "cpu")
    with pytest.raises(PrecisionError, match="capability 8.0"):
        choose_precision("bf16", "cuda", capability=[7, 0])


def test_fp32_is_always_honoured() -> None:
    for backend in ("cpu", "cuda"):
        assert choose_precision("fp32", backend, capability=[9, 0]).name == "fp32"


def test_cpu_flags_parse_cpuinfo() -> None:
    text = "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16\n"
    assert native_bf16_flags(cpu_flags(text)) == ("avx512_bf16", "amx_bf16")


def test_strided_convs_stay_fp32_under_bf16_on_the_cpu() -> None:
    layers: List[Dict[str, Any]] = [
        {"name": "block1.conv", "type": "conv", "stride": 4},
        {"name": "block1.micro1", "type": "conv", "stride": 1},
        {"name": "block1.pool", "type": "maxpool", "stride": 2},
    ]
    bf16 = choose_precision("bf16", "cpu", flags=["avx512_bf16"])
    assert fp32_layers(layers, bf16, "cpu") == ("block1.conv",)
    assert fp32_layers(layers, bf16, "cuda") == ()
    assert fp32_layers(layers, choose_precision("fp32", "cpu"), "cpu") == ()


def test_auto_follows_what_the_parity_study_found() -> None:
    held = ParityEvidence(True, "+0.1 pp, 95% CI −0.4 to +0.6 pp")
    missed = ParityEvidence(False, "+2.0 pp, 95% CI −1.5 to +5.5 pp")
    shown = choose_precision("auto", "cpu", flags=["avx512_bf16"], parity=held)
    assert shown.name == "bf16" and "parity with fp32 shown (+0.1 pp" in shown.reason
    cases: List[Tuple[str, Dict[str, Any]]] = [
        ("cpu", {"flags": ["avx512_bf16"]}),
        ("cuda", {"capability": [8, 0]}),
    ]
    for backend, hw in cases:
        stays = choose_precision("auto", backend, parity=missed, **hw)
        assert stays.name == "fp32"
        assert "parity with fp32 was not shown: +2.0 pp" in stays.reason
        assert "train.precision bf16" in stays.reason
        # Asking for bf16 still gets it: the study decides only what auto picks.
        assert choose_precision("bf16", backend, parity=missed, **hw).name == "bf16"
