"""safetensors files of a NiN Lab model, written and read without the `safetensors` package (the
engine needs nothing but torch; the tests check these files with the reference library).

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
then the raw little-endian tensor bytes. NiN Lab's files hold float32 tensors named after the
layer table (src/shared/architecture.ts): `<row name>.weight` and `<row name>.bias`, in PyTorch's
layouts (conv [out, in, kh, kw], dense [out, in]) whichever engine trained the model, and the
metadata `format: nin-lab-safetensors`, `layout`, `layers` (the table, JSON) and `engine`, so a
model trained on either engine loads into the other.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any, Dict, List, Mapping, Tuple

import torch

FORMAT = "nin-lab-safetensors"
LAYOUT = "torch: conv [out, in, kh, kw], dense [out, in]; input NCHW"
# A NiN's weights are a few MB; the header of a file with a few dozen tensors a few KB.
MAX_HEADER_BYTES = 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024


class SafetensorsError(ValueError):
    """The file is not a NiN Lab safetensors file for this network; the message says why."""


def encode(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> Tuple[bytes, bytes]:
    """(header bytes with their length prefix, data bytes) for float32 `tensors`."""
    header: Dict[str, Any] = {"__metadata__": dict(metadata)}
    chunks: List[bytes] = []
    offset = 0
    for name, t in tensors.items():
        # struct, not numpy: the engine needs nothing but torch (Debian's has no numpy).
        values = t.detach().to("cpu", torch.float32).flatten().tolist()
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    return struct.pack("<Q", len(text)) + text, b"".join(chunks)


def metadata_for(layers: List[Mapping[str, Any]], engine: str) -> Dict[str, str]:
    return {"format": FORMAT, "layout": LAYOUT, "engine": engine, "layers": json.dumps(layers)}


def read(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """The tensors and metadata of a NiN Lab safetensors file, checked before use: a file that
    is malformed, not safetensors, or safetensors from elsewhere is a SafetensorsError naming
    the file and what is wrong."""
    size = os.path.getsize(path)

    def bad(why: str) -> SafetensorsError:
        return SafetensorsError(f"{path} is not a NiN Lab safetensors model: {why}")

    if size < 8 or size > MAX_FILE_BYTES:
        raise bad(f"its size ({size} bytes) is not that of a model")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
            raise bad(f"its header length ({n}) does not fit the file (not a safetensors file?)")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise bad(f"its header is not JSON ({err})") from None
        data = f.read()
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad(
            "its metadata does not say format=nin-lab-safetensors (a safetensors file from "
            "elsewhere: export it from NiN Lab with `nin-lab export-model`)"
        )
    tensors: Dict[str, torch.Tensor] = {}
    for name, spec in header.items():
        tensors[name] = _tensor(name, spec, data, bad)
    return tensors, {str(k): str(v) for k, v in meta.items()}


def _tensor(name: str, spec: Any, data: bytes, bad: Any) -> torch.Tensor:
    if not isinstance(spec, dict) or spec.get("dtype") != "F32":
        raise bad(f"tensor {name!r} is not float32 (dtype {spec.get('dtype')!r})")
    shape = spec.get("shape")
    begin, end = spec.get("data_offsets", [None, None])
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad(f"tensor {name!r} has no valid shape")
    count = 1
    for d in shape:
        count *= d
    if not isinstance(begin, int) or not isinstance(end, int) or not 0 <= begin <= end:
        raise bad(f"tensor {name!r} has invalid data offsets")
    if end > len(data) or end - begin != 4 * count:
        raise bad(f"tensor {name!r}'s data does not fit its shape {shape} or the file")
    values = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32)
    return values.reshape(shape) if count else torch.zeros(shape)


def load_into(model: torch.nn.Module, path: str) -> Dict[str, str]:
    """Loads the file's weights into `model` (a NinNetwork) after checking that the names and
    shapes are exactly the network's; returns the metadata."""
    tensors, meta = read(path)
    state = model.state_dict()
    missing = sorted(set(state) - set(tensors))
    extra = sorted(set(tensors) - set(state))
    if missing or extra:
        raise SafetensorsError(
            f"{path} holds another network: missing {missing[:3]}, unknown {extra[:3]} "
            "(export the model of a run with this config)"
        )
    for name, t in tensors.items():
        if list(t.shape) != list(state[name].shape):
            raise SafetensorsError(
                f"{path}: {name} has shape {list(t.shape)}, this network "
                f"{list(state[name].shape)} (another config?)"
            )
    model.load_state_dict(tensors)
    return meta
