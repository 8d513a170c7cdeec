"""The NiN network in PyTorch, built from the shared layer table (src/shared/architecture.ts
`layerTable`, passed in the job as JSON) and nothing else: one module per conv/dense row, and a
forward pass that walks the rows. The engine therefore cannot drift from the cost model or the
tfjs engine; `check_against_table` proves it per layer (parameters and output shapes).

Parameters are named after the rows (`block1.conv.weight`, `output.bias`), so checkpoints and
exports read like the layer table. Layout is NCHW (channels_last memory format when asked);
flatten is in (C, H, W) order, as the tfjs engine's flatten is.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

Layer = Mapping[str, Any]

# Row types of the layer table and the fields each one needs (architecture.ts `Layer`).
_REQUIRED: Dict[str, Sequence[str]] = {
    "conv": ("filters", "kernel", "stride", "padding"),
    "maxpool": ("kernel", "stride"),
    "dropout": ("rate",),
    "gap": (),
    "flatten": (),
    "dense": ("units", "activation"),
}


class LayerTableError(ValueError):
    """The job's layer table is malformed or does not match the network built from it."""


def validate_layers(layers: Any) -> List[Layer]:
    """Checks the shape of the JSON layer table before anything is built from it."""
    if not isinstance(layers, list) or not layers:
        raise LayerTableError("the job's `layers` must be a non-empty array (layerTable output)")
    for i, row in enumerate(layers):
        if not isinstance(row, dict):
            raise LayerTableError(f"layers[{i}] is not an object")
        kind = row.get("type")
        if kind not in _REQUIRED:
            raise LayerTableError(f"layers[{i}] has unknown type {kind!r}")
        for key in ("name", "inputShape", "outputShape", "params", *_REQUIRED[kind]):
            if key not in row:
                raise LayerTableError(f"layers[{i}] ({kind} {row.get('name')!r}) lacks {key!r}")
    return layers


def seeded_dropout(
    x: torch.Tensor, rate: float, generator: Optional[torch.Generator]
) -> torch.Tensor:
    """Inverted dropout whose mask comes from a caller-seeded generator, so the masks of a step
    are a function of (seed, step) — as in the tfjs engine — and a resumed run repeats them."""
    if rate <= 0:
        return x
    keep = 1.0 - rate
    # Keep where u ≥ rate, u ~ U[0, 1): a Bernoulli(keep) mask, pre-scaled by 1/keep. Measured on
    # the CPU (torch 1.13, 128×384×4×4): 3 ms, against 8.5 ms for bernoulli_ or F.dropout.
    # Drawn in float32 whatever x's dtype (bf16 under autocast): the same masks in every
    # precision for the same seed.
    u = torch.empty_like(x, dtype=torch.float32).uniform_(0.0, 1.0, generator=generator)
    return x * (u >= rate).to(x.dtype).mul_(1.0 / keep)


class NinNetwork(nn.Module):
    """A NiN variant: one module per conv/dense row of the layer table; pooling, dropout,
    global average pooling and flatten are parameter-free functions in the forward walk."""

    def __init__(self, layers: Sequence[Layer], fp32_layers: Sequence[str] = ()) -> None:
        """`fp32_layers`: conv rows (by name) that compute in float32 even under autocast
        (precision.py `fp32_layers` says which and why)."""
        super().__init__()
        self.layers: List[Layer] = list(validate_layers(layers))
        self.fp32_layers: Tuple[str, ...] = tuple(fp32_layers)
        unknown = set(self.fp32_layers) - {
            str(r["name"]) for r in self.layers if r["type"] == "conv"
        }
        if unknown:
            raise LayerTableError(f"fp32 layers {sorted(unknown)} are no conv rows of the table")
        self._fp32_rows = frozenset(
            i for i, r in enumerate(self.layers) if str(r["name"]) in self.fp32_layers
        )
        # Row index → module, for the forward walk (nested names are registered below).
        self._modules_by_row: Dict[int, nn.Module] = {}
        for i, row in enumerate(self.layers):
            module = self._make(row)
            if module is not None:
                self._register(row["name"], module)
                self._modules_by_row[i] = module

    @staticmethod
    def _make(row: Layer) -> Optional[nn.Module]:
        kind = row["type"]
        if kind == "conv":
            return nn.Conv2d(
                int(row["inputShape"][0]),
                int(row["filters"]),
                int(row["kernel"]),
                stride=int(row["stride"]),
                padding=int(row["padding"]),
            )
        if kind == "dense":
            return nn.Linear(int(row["inputShape"][0]), int(row["units"]))
        return None

    def _register(self, name: str, module: nn.Module) -> None:
        """Registers `module` under a dotted row name (`block1.conv`) as nested modules, so its
        parameters are called `block1.conv.weight` in the state dict."""
        parts = name.split(".")
        parent: nn.Module = self
        for part in parts[:-1]:
            child = parent._modules.get(part)
            if child is None:
                child = nn.Module()
                parent.add_module(part, child)
            parent = child
        if parts[-1] in parent._modules:
            raise LayerTableError(f"layer name {name!r} is used twice")
        parent.add_module(parts[-1], module)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """d2l's init (d2l.init_cnn): Xavier-uniform weights with PyTorch's fans (channels ×
        kernel area), zero biases; drawn from `generator`, a CPU generator, so the same seed
        gives the same initial weights on every device."""
        with torch.no_grad():
            for module in self._modules_by_row.values():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    w = module.weight
                    receptive = w[0][0].numel() if w.dim() > 2 else 1
                    fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
                    bound = math.sqrt(6.0 / (fan_in + fan_out))
                    values = torch.empty(w.shape, dtype=w.dtype).uniform_(
                        -bound, bound, generator=generator
                    )
                    w.copy_(values)
                    if module.bias is not None:
                        module.bias.zero_()

    def forward(
        self,
        x: torch.Tensor,
        dropout_seed: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        shapes: Optional[List[List[int]]] = None,
    ) -> torch.Tensor:
        """Logits [B, classes]. In training mode each dropout row draws its mask from
        `generator` reseeded with dropout_seed·31 + its index (the tfjs engine's rule). When
        `shapes` is given, each row's output shape (without the batch axis) is appended to it."""
        dropout_index = 0
        for i, row in enumerate(self.layers):
            kind = row["type"]
            if kind == "conv":
                if i in self._fp32_rows:
                    with torch.autocast(device_type=x.device.type, enabled=False):
                        x = F.relu(self._modules_by_row[i](x.float()), inplace=True)
                else:
                    x = F.relu(self._modules_by_row[i](x), inplace=True)
            elif kind == "maxpool":
                x = F.max_pool2d(x, int(row["kernel"]), int(row["stride"]))
            elif kind == "dropout":
                if self.training:
                    if generator is not None and dropout_seed is not None:
                        generator.manual_seed(dropout_seed * 31 + dropout_index)
                    x = seeded_dropout(x, float(row["rate"]), generator)
                dropout_index += 1
            elif kind == "gap":
                x = x.mean(dim=(2, 3))
            elif kind == "flatten":
                x = torch.flatten(x, 1)
            elif kind == "dense":
                x = self._modules_by_row[i](x)
                if row["activation"] == "relu":
                    x = F.relu(x, inplace=True)
            if shapes is not None:
                shapes.append(list(x.shape[1:]))
        return x

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def layer_params(self) -> List[Dict[str, Any]]:
        """Parameters per row as this network has them: [{name, type, params}]."""
        out = []
        for i, row in enumerate(self.layers):
            module = self._modules_by_row.get(i)
            n = sum(p.numel() for p in module.parameters()) if module is not None else 0
            out.append({"name": row["name"], "type": row["type"], "params": n})
        return out

    def check_against_table(self) -> None:
        """Raises LayerTableError unless every row's parameter count and output shape equal the
        table's: one forward pass of a single zero image, on the CPU, in evaluation mode."""
        for mine in self.layer_params():
            row = next(r for r in self.layers if r["name"] == mine["name"])
            if mine["params"] != int(row["params"]):
                raise LayerTableError(
                    f"layer {row['name']}: torch has {mine['params']} parameters, the layer "
                    f"table {row['params']}"
                )
        c, h, w = (int(v) for v in self.layers[0]["inputShape"])
        was_training = self.training
        shapes: List[List[int]] = []
        self.eval()
        device = next(self.parameters()).device
        with torch.no_grad():
            self.forward(torch.zeros(1, c, h, w, device=device), shapes=shapes)
        self.train(was_training)
        for row, shape in zip(self.layers, shapes):
            if shape != [int(v) for v in row["outputShape"]]:
                raise LayerTableError(
                    f"layer {row['name']}: torch computes output shape {shape}, the layer table "
                    f"{list(row['outputShape'])}"
                )
