"""protocol.py: one JSON object per line, stamped, JSON-safe, and a closed stream noticed."""

import io
import json

import pytest

from nin_torch.protocol import Channel, ParentGone, loss_text


def test_messages_are_stamped_json_lines() -> None:
    out = io.StringIO()
    ch = Channel(out, run_id="r1")
    ch.send({"type": "step", "loss": 0.5})
    ch.log("hello", level="warn")
    lines = out.getvalue().splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["type", "loss", "runId", "time"]
    assert first["runId"] == "r1" and isinstance(first["time"], int)
    assert json.loads(lines[1])["level"] == "warn"


def test_non_finite_numbers_become_null() -> None:
    out = io.StringIO()
    Channel(out).send({"type": "epoch", "testLoss": float("nan"), "xs": [float("inf"), 1.0]})
    message = json.loads(out.getvalue())
    assert message["testLoss"] is None and message["xs"] == [None, 1.0]
    assert [loss_text(float(x)) for x in ("nan", "inf", "-inf")] == [
        "NaN",
        "Infinity",
        "-Infinity",
    ]


def test_a_closed_stream_means_the_parent_is_gone() -> None:
    out = io.StringIO()
    out.close()
    with pytest.raises(ParentGone):
        Channel(out).send({"type": "log"})
