"""Checkpoints and the final model, in the same places and with the same guarantees as the tfjs
engine's (src/trainer/engines/tfjs/checkpoint.ts):

  runDir/checkpoints/epoch-NNNN/  model.pt (state_dict), optimizer.pt (optimizer [+ grad
                                  scaler] state), checkpoint.json — the manifest, written LAST
  runDir/model/                   model.pt (state_dict) + model.json (layer table, config)

A checkpoint is written to a temporary folder and renamed into place, so a crash mid-write leaves
the previous checkpoint intact and never a half-written one that looks valid; only the newest is
kept. The RNG position needs no saving: every random draw is a function of (seed, epoch, step).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch
from torch import nn

CHECKPOINT_VERSION = 1
ENGINE = "torch"
RNG_RULE = "shuffle(seed, epoch); dropout(seed, step)"
_DIR_PATTERN = re.compile(r"^epoch-(\d{4,})$")


class CheckpointError(Exception):
    """A checkpoint exists but cannot be used for this run (another engine, another config)."""


@dataclass
class Restored:
    epoch: int
    step: int
    path: str


def _write_json(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)


def save_checkpoint(
    run_dir: str,
    epoch: int,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Optional[Any] = None,
) -> str:
    root = os.path.join(run_dir, "checkpoints")
    os.makedirs(root, exist_ok=True)
    name = f"epoch-{epoch:04d}"
    final = os.path.join(root, name)
    tmp = os.path.join(root, f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    torch.save(model.state_dict(), os.path.join(tmp, "model.pt"))
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
        },
        os.path.join(tmp, "optimizer.pt"),
    )
    manifest = {
        "version": CHECKPOINT_VERSION,
        "engine": ENGINE,
        "epoch": epoch,
        "step": step,
        "rng": RNG_RULE,
        "files": {"model": "model.pt", "optimizer": "optimizer.pt"},
        "torch": torch.__version__,
    }
    # The manifest is written last: a folder without it is incomplete by definition.
    _write_json(os.path.join(tmp, "checkpoint.json"), manifest)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    for entry in os.listdir(root):
        if entry != name:
            path = os.path.join(root, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    return final


def _load(path: str, device: torch.device) -> Any:
    """torch.load of a file this engine wrote into the run's own folder (as trusted as the job
    itself). Not weights_only: torch 1.13's weights-only unpickler refuses the floats of an
    optimizer's param_groups; torch >= 2.6 would default to it."""
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location=device)


def _fits(dir_: str, model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Raises CheckpointError unless the checkpoint has exactly this network's weights."""
    mine = model.state_dict()
    unmatched = [k for k in mine if k not in state] + sorted(set(state) - set(mine))
    if unmatched:
        raise CheckpointError(
            f"checkpoint {dir_} does not fit this network (weight {unmatched[0]}): the run's "
            "config changed; start a new run instead of resuming"
        )
    for key, tensor in mine.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"checkpoint {dir_} does not fit this network (weight {key} has shape "
                f"{list(state[key].shape)}, the network {list(tensor.shape)}): the run's config "
                "changed; start a new run instead of resuming"
            )


def restore_latest_checkpoint(
    run_dir: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scaler: Optional[Any] = None,
    warn: Callable[[str], None] = lambda _message: None,
) -> Optional[Restored]:
    """Restores the newest complete checkpoint into model and optimizer; None when the run has
    none. Incomplete or damaged folders are skipped (an older one may be whole); a checkpoint of
    another engine or of another network is an error, never silently ignored."""
    root = os.path.join(run_dir, "checkpoints")
    try:
        entries = os.listdir(root)
    except OSError:
        return None
    numbered = [(int(m.group(1)), e) for e in entries if (m := _DIR_PATTERN.match(e))]
    for _, entry in sorted(numbered, reverse=True):
        dir_ = os.path.join(root, entry)
        try:
            with open(os.path.join(dir_, "checkpoint.json"), encoding="utf-8") as f:
                manifest: Dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            continue  # no manifest: incomplete
        engine = manifest.get("engine", "tfjs")
        if engine != ENGINE:
            raise CheckpointError(
                f"checkpoint {dir_} was written by the {engine} engine: resume this run with "
                f"{engine}, or start a new run"
            )
        if manifest.get("version") != CHECKPOINT_VERSION:
            warn(f"checkpoint {dir_} has format version {manifest.get('version')}: skipped")
            continue
        try:
            state = _load(os.path.join(dir_, "model.pt"), device)
            opt_state = _load(os.path.join(dir_, "optimizer.pt"), device)
        except Exception as err:  # damaged file: say so, and try an older checkpoint
            warn(f"checkpoint {dir_} cannot be read ({type(err).__name__}: {err}): skipped")
            continue
        _fits(dir_, model, state)
        model.load_state_dict(state)
        optimizer.load_state_dict(opt_state["optimizer"])
        if scaler is not None and opt_state.get("scaler") is not None:
            scaler.load_state_dict(opt_state["scaler"])
        return Restored(int(manifest["epoch"]), int(manifest["step"]), dir_)
    return None


def save_model(
    run_dir: str,
    model: nn.Module,
    layers: List[Mapping[str, Any]],
    config: Mapping[str, Any],
) -> str:
    """The trained model: `model.pt` (state_dict, float32, CPU tensors) and `model.json`."""
    final = os.path.join(run_dir, "model")
    tmp = os.path.join(run_dir, f".model.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(tmp, "model.pt"))
    _write_json(
        os.path.join(tmp, "model.json"),
        {
            "format": "nin-lab-layers",
            "generatedBy": f"nin-lab (PyTorch {torch.__version__})",
            "convertedBy": None,
            "dataFormat": "NCHW",
            "modelTopology": {"layers": list(layers), "config": dict(config)},
            "weightsFile": "model.pt",
            "weights": [
                {"name": k, "shape": list(v.shape), "dtype": "float32"} for k, v in state.items()
            ],
        },
    )
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    return final
