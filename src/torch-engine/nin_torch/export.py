"""A trained torch model out of NiN Lab: ONNX, TorchScript or safetensors (export_model.py).

The model folder (runDir/model: model.pt, model.json, SHA256SUMS) is checked against its
checksums first. Every format takes what the network takes: float32 images [batch, C, S, S]
(NCHW), preprocessed as in training — scaled to [0, 1], resized to model.inputSize, and
standardised per channel when the config's data.normalize is "channel" — and gives logits
[batch, classes].
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any, Dict, List, Mapping, Tuple

import torch

from nin_torch import safetensors
from nin_torch.files import open_regular, verify_sums
from nin_torch.network import NinNetwork

FORMATS = ("onnx", "safetensors", "torchscript")
# ONNX opset 17 is the newest torch 1.13's exporter writes; 2.x writes it too.
ONNX_OPSET = 17


class ExportError(ValueError):
    """The model folder cannot be exported; the message says why and what to do."""


def load_model(model_dir: str) -> Tuple[NinNetwork, Dict[str, Any]]:
    """The trained network (evaluation mode, CPU, float32) and its model.json."""
    damage = verify_sums(model_dir)
    if damage is not None:
        raise ExportError(f"the model in {model_dir} cannot be exported: {damage}")
    f, _ = open_regular(os.path.join(model_dir, "model.json"))
    with f:
        manifest = json.loads(f.read().decode("utf-8"))
    if manifest.get("format") != "nin-lab-layers" or manifest.get("dataFormat") != "NCHW":
        raise ExportError(f"{model_dir} holds no torch model (model.json is not NiN Lab's NCHW)")
    layers: List[Mapping[str, Any]] = manifest["modelTopology"]["layers"]
    model = NinNetwork(layers)
    state = torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu")
    model.load_state_dict(state)
    model.eval()
    return model, manifest


def example_input(model: NinNetwork, batch: int = 2) -> torch.Tensor:
    c, h, w = (int(v) for v in model.layers[0]["inputShape"])
    return torch.zeros(batch, c, h, w)


def export_onnx(model: NinNetwork, out: str) -> None:
    kwargs: Dict[str, Any] = {}
    # torch 2.x defaults to the dynamo exporter, which needs onnxscript; the TorchScript-based
    # exporter needs nothing more and writes the same graph for this network.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example_input(model),),
            out,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            **kwargs,
        )


def export_torchscript(model: NinNetwork, out: str) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            model, (example_input(model),), check_trace=False
        )
    traced.save(out)


def export_safetensors(model: NinNetwork, out: str) -> None:
    header, data = safetensors.encode(
        model.state_dict(), safetensors.metadata_for(list(model.layers), "torch")
    )
    with open(out, "wb") as f:
        f.write(header)
        f.write(data)


def export_model(model_dir: str, fmt: str, out: str) -> Dict[str, Any]:
    """Writes the model in `fmt` to `out`; returns {file, format, bytes}."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    model, _ = load_model(model_dir)
    {"onnx": export_onnx, "safetensors": export_safetensors, "torchscript": export_torchscript}[
        fmt
    ](model, out)
    return {"file": out, "format": fmt, "bytes": os.path.getsize(out)}
