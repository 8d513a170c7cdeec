"""Checkpoints and the final model, in the same places and with the same guarantees as the tfjs
engine's (src/trainer/engines/tfjs/checkpoint.ts):

  runDir/checkpoints/epoch-NNNN/  model.pt (state_dict), optimizer.pt (optimizer [+ grad
                                  scaler] state), checkpoint.json, SHA256SUMS — written LAST
  runDir/model/                   model.pt (state_dict), model.json (layer table, config),
                                  SHA256SUMS

A folder is written under a temporary name — each file flushed to disk, SHA256SUMS (./files.py)
last — and renamed into place, so a crash or a full disk mid-write leaves the previous
checkpoint intact and never a half-written one that looks valid. The two newest checkpoints are
kept: when the newest turns out damaged on resume (its checksums do not match), the run resumes
from the one before, saying so. The RNG position needs no saving: every random draw is a
function of (seed, epoch, step).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn

from .files import (
    disk_full_message,
    fsync_dir,
    is_disk_full,
    open_regular,
    verify_sums,
    write_file_durable,
    write_sums,
)

# 2: with SHA256SUMS. 1 (before checksums) is still read, unverified.
CHECKPOINT_VERSION = 2
READABLE_VERSIONS = (1, 2)
ENGINE = "torch"
RNG_RULE = "shuffle(seed, epoch); dropout(seed, step)"
_DIR_PATTERN = re.compile(r"^epoch-(\d{4,})$")
# checkpoint.json holds a few fields: anything long is not one.
_MANIFEST_MAX_BYTES = 1 << 20


class CheckpointError(Exception):
    """A checkpoint exists but cannot be used for this run (another engine, another config), or
    cannot be written (a full disk); the message says what to do."""


@dataclass
class Restored:
    epoch: int
    step: int
    path: str


def _checkpoint_dirs(root: str) -> List[Tuple[int, str]]:
    """(epoch, folder name) of the run's checkpoints, newest first."""
    try:
        entries = os.listdir(root)
    except OSError:
        return []
    numbered = [(int(m.group(1)), e) for e in entries if (m := _DIR_PATTERN.match(e))]
    return sorted(numbered, reverse=True)


def _write_folder_atomic(
    final: str, tmp: str, fill: Callable[[str], None], disk_full: Callable[[], str]
) -> None:
    """`fill` writes the files into `tmp`; then SHA256SUMS; then `tmp` replaces `final`. On any
    failure `tmp` is removed and `final` is untouched; a full disk raises CheckpointError."""
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        fill(tmp)
        write_sums(tmp)
        fsync_dir(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        fsync_dir(os.path.dirname(final))
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(err):
            raise CheckpointError(disk_full()) from err
        raise


def _save_json(path: str, value: Any) -> None:
    write_file_durable(path, lambda f: f.write(json.dumps(value, indent=1).encode("utf-8")))


def _save_torch(path: str, value: Any) -> None:
    # Serialised in memory first (a checkpoint is tens of MB at most): torch.save writing into a
    # file that hits a full disk aborts the whole process from its zip writer's destructor
    # (std::terminate), where an ordinary OSError is what the caller can report.
    buffer = io.BytesIO()
    torch.save(value, buffer)
    write_file_durable(path, lambda f: f.write(buffer.getbuffer()))


def save_checkpoint(
    run_dir: str,
    epoch: int,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Optional[Any] = None,
) -> str:
    root = os.path.join(run_dir, "checkpoints")
    name = f"epoch-{epoch:04d}"
    final = os.path.join(root, name)
    older = [(e, n) for e, n in _checkpoint_dirs(root) if e < epoch]
    manifest = {
        "version": CHECKPOINT_VERSION,
        "engine": ENGINE,
        "epoch": epoch,
        "step": step,
        "rng": RNG_RULE,
        "files": {"model": "model.pt", "optimizer": "optimizer.pt"},
        "torch": torch.__version__,
    }

    def fill(tmp: str) -> None:
        _save_torch(os.path.join(tmp, "model.pt"), model.state_dict())
        _save_torch(
            os.path.join(tmp, "optimizer.pt"),
            {
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
            },
        )
        _save_json(os.path.join(tmp, "checkpoint.json"), manifest)

    # A retry resumes from the newest checkpoint before this one (still intact). The temp
    # folder's makedirs creates checkpoints/ too, inside the disk-full check.
    _write_folder_atomic(
        final,
        os.path.join(root, f".{name}.tmp-{os.getpid()}"),
        fill,
        lambda: disk_full_message(root, older[0][0] if older else 0),
    )
    # Keep this checkpoint and the one before it; drop the rest (older ones, leftovers of crashed
    # writes, and any newer ones a resume from further back has made obsolete).
    keep = {name, older[0][1]} if older else {name}
    for entry in os.listdir(root):
        if entry not in keep:
            path = os.path.join(root, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    return final


def _read_manifest(dir_: str) -> Optional[Dict[str, Any]]:
    """checkpoint.json, or None when it is missing or unreadable (a damaged folder)."""
    try:
        f, size = open_regular(os.path.join(dir_, "checkpoint.json"))
        with f:
            if size > _MANIFEST_MAX_BYTES:
                return None
            value = json.loads(f.read(_MANIFEST_MAX_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


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
    """Restores the newest sound checkpoint into model and optimizer; None when the run has
    none. A damaged checkpoint (checksums or format wrong) is named in a warning and the one
    before it is tried; when none is sound, a warning says the run starts from the beginning. A
    checkpoint of another engine or of another network is an error, never silently ignored."""
    root = os.path.join(run_dir, "checkpoints")
    candidates = _checkpoint_dirs(root)
    for _, entry in candidates:
        dir_ = os.path.join(root, entry)
        manifest = _read_manifest(dir_)
        damage = verify_sums(dir_)
        engine = (manifest or {}).get("engine", "tfjs")
        version = (manifest or {}).get("version")
        # Format 1 (before checksums) has no SHA256SUMS: read it as it is, saying so.
        legacy = version == 1 and damage is not None and damage.startswith("it has no ")
        if (damage is None or legacy) and engine != ENGINE:
            raise CheckpointError(
                f"checkpoint {dir_} was written by the {engine} engine: resume this run with "
                f"{engine}, or start a new run"
            )
        if legacy:
            warn(
                f"checkpoint {dir_} predates checksums (format version 1): resuming from it "
                "unverified"
            )
        elif damage is not None:
            warn(f"checkpoint {dir_} is damaged: {damage}; skipped")
            continue
        elif manifest is None or version not in READABLE_VERSIONS:
            warn(f"checkpoint {dir_} has an unknown format version {version}: skipped")
            continue
        try:
            state = _load(os.path.join(dir_, "model.pt"), device)
            opt_state = _load(os.path.join(dir_, "optimizer.pt"), device)
        except Exception as err:  # unreadable despite its checksums (a torch version change)
            warn(f"checkpoint {dir_} cannot be read ({type(err).__name__}: {err}): skipped")
            continue
        _fits(dir_, model, state)
        model.load_state_dict(state)
        optimizer.load_state_dict(opt_state["optimizer"])
        if scaler is not None and opt_state.get("scaler") is not None:
            scaler.load_state_dict(opt_state["scaler"])
        assert manifest is not None
        return Restored(int(manifest["epoch"]), int(manifest["step"]), dir_)
    if candidates:
        warn(f"no sound checkpoint in {root}: the run starts again from the beginning (epoch 0)")
    return None


def save_model(
    run_dir: str,
    model: nn.Module,
    layers: List[Mapping[str, Any]],
    config: Mapping[str, Any],
    resume_epoch: int = 0,
) -> str:
    """The trained model: `model.pt` (state_dict, float32, CPU tensors), `model.json` and
    SHA256SUMS. `resume_epoch`: the checkpoint a retry resumes from if the disk is full."""
    final = os.path.join(run_dir, "model")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    description = {
        "format": "nin-lab-layers",
        "generatedBy": f"nin-lab (PyTorch {torch.__version__})",
        "convertedBy": None,
        "dataFormat": "NCHW",
        "modelTopology": {"layers": list(layers), "config": dict(config)},
        "weightsFile": "model.pt",
        "weights": [
            {"name": k, "shape": list(v.shape), "dtype": "float32"} for k, v in state.items()
        ],
    }

    def fill(tmp: str) -> None:
        _save_torch(os.path.join(tmp, "model.pt"), state)
        _save_json(os.path.join(tmp, "model.json"), description)

    _write_folder_atomic(
        final,
        os.path.join(run_dir, f".model.tmp-{os.getpid()}"),
        fill,
        lambda: disk_full_message(run_dir, resume_epoch),
    )
    return final
