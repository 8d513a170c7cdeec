"""The message channel: the same JSON objects as the tfjs trainer (src/shared/protocol/trainer.ts),
stamped with runId and time (Unix ms), one per line on the protocol stream.

The protocol stream is the process's original stdout. trainer.py moves file descriptor 1 onto
stderr before torch is imported, so anything else that writes to stdout — warnings, a native
library's banner, a stray print — lands on stderr and can never corrupt the protocol.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Dict, TextIO


class ParentGone(Exception):
    """The protocol stream is closed: whoever reads our messages has gone."""


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: like JSON.stringify, write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def loss_text(loss: float) -> str:
    """A non-finite loss as JavaScript's String(x) writes it (the diverged message's `loss`)."""
    if math.isnan(loss):
        return "NaN"
    return "Infinity" if loss > 0 else "-Infinity"


class Channel:
    """Writes stamped messages as JSON lines and flushes each one."""

    def __init__(self, stream: TextIO, run_id: str = "unknown") -> None:
        self.stream = stream
        self.run_id = run_id

    def line(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError) as err:  # ValueError: the stream is closed
            raise ParentGone(str(err)) from None

    def send(self, message: Dict[str, Any]) -> None:
        """`{...message, runId, time}`: the key order of the TypeScript channel."""
        stamped = {**message, "runId": self.run_id, "time": int(time.time() * 1000)}
        self.line(json.dumps(_finite(stamped), allow_nan=False, separators=(",", ":")))

    def log(self, message: str, level: str = "info") -> None:
        self.send({"type": "log", "level": level, "message": message})


def protocol_stream() -> TextIO:
    """Takes the real stdout for the protocol and points file descriptor 1 at stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "w", encoding="utf-8", buffering=1)
