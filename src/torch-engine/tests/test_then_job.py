"""trainer.py --probe --then-job: its arguments and the job line it reads (the training itself is
tested on real processes in tests/integration/torch-trainer.test.ts)."""

import io

import pytest

import trainer  # beside the package: conftest.py puts its folder on the path


def test_then_job_goes_with_probe_only() -> None:
    assert trainer.parse_args(["--probe", "--then-job"]).then_job is True
    assert trainer.parse_args(["--probe"]).then_job is False
    with pytest.raises(SystemExit):
        trainer.parse_args(["--job", "job.json", "--then-job"])


def test_reads_one_path_or_the_end_of_input() -> None:
    assert trainer.read_job_path(io.StringIO("/runs/r1/torch-job.json\n")) == (
        "/runs/r1/torch-job.json"
    )
    assert trainer.read_job_path(io.StringIO("/runs/r1/torch-job.json")) == (
        "/runs/r1/torch-job.json"
    )
    assert trainer.read_job_path(io.StringIO("")) is None  # released: end of input
    assert trainer.read_job_path(io.StringIO("\n")) is None


def test_warm_up_is_best_effort(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("no optimizer here")

    monkeypatch.setattr(torch.optim, "SGD", broken)
    trainer.warm_up_training()  # the job meets the error again and reports it as `failed`
