"""compile.py: what `train.compile` resolves to, from made-up measurements."""

import pytest

from nin_torch.compile import (
    PAYBACK_FACTOR,
    CompileError,
    CompileEvidence,
    check_compile,
    decide_auto,
    torch_has_compile,
)

CPU = {"cpu": CompileEvidence(compile_seconds=300.0, step_saving=0.10, measured="test")}


def test_torch_2_has_compile_and_1_13_does_not() -> None:
    assert torch_has_compile("2.15.0+cu132", has_attr=True)
    assert not torch_has_compile("1.13.0", has_attr=False)
    assert not torch_has_compile("1.13.0", has_attr=True)  # a stub attribute is not enough
    assert not torch_has_compile("unknown", has_attr=True)


def test_on_and_off_need_no_measurement() -> None:
    off = check_compile("off", "2.15.0", has_compile=True)
    assert off is not None and not off.enabled
    on = check_compile("on", "2.15.0", has_compile=True)
    assert on is not None and on.enabled
    assert check_compile("auto", "2.15.0", has_compile=True) is None  # decided after probe steps


def test_on_without_torch_compile_is_refused_with_what_to_do() -> None:
    with pytest.raises(CompileError, match="needs PyTorch 2.*set train.compile to auto or off"):
        check_compile("on", "1.13.0", has_compile=False)
    auto = check_compile("auto", "1.13.0", has_compile=False)
    assert auto is not None and not auto.enabled and "1.13.0 has no torch.compile" in auto.reason


def test_an_unknown_setting_names_the_choices() -> None:
    with pytest.raises(CompileError, match="auto, on, off"):
        check_compile("yes", "2.15.0", has_compile=True)


def test_auto_compiles_only_when_the_saving_pays_back_twice() -> None:
    # 0.5 s/step × 10% saving = 0.05 s saved a step; paying back 2 × 300 s needs 12,000 steps.
    needed = int(PAYBACK_FACTOR * 300.0 / (0.5 * 0.10))
    short = decide_auto("cpu", 0.5, needed - 100, CPU)
    long = decide_auto("cpu", 0.5, needed + 100, CPU)
    assert not short.enabled and "would not pay back" in short.reason
    assert long.enabled and "compiled" in long.reason
    assert "300 s" in long.reason and "10%" in long.reason


def test_auto_never_compiles_where_compiling_was_not_measured_or_saves_nothing() -> None:
    unmeasured = decide_auto("cuda", 0.5, 10**9, CPU)
    assert not unmeasured.enabled and "not been measured on cuda" in unmeasured.reason
    no_gain = {"cpu": CompileEvidence(compile_seconds=300.0, step_saving=-0.05, measured="test")}
    assert not decide_auto("cpu", 0.5, 10**9, no_gain).enabled
