"""The dataset side of the torch engine: the reader of the binary dataset cache the TypeScript
data layer writes (src/trainer/data/cache.ts documents the byte layout; one data pipeline,
two readers), the stratified subset and the per-epoch shuffle (via ./rng.py, bitwise the
TypeScript rules), and minibatches resized on the device.

Images stay uint8 on the device (47 MB for all of Fashion-MNIST, 184 MB for CIFAR), as
[count, C, H, W]; each batch is gathered, scaled to [0, 1] and resized there with torch's
bilinear interpolation (half-pixel centres, no antialiasing), the convention
src/trainer/data/resize.ts implements for the tfjs engine; then, as batches.ts does, cropped from
the zero-padded image and flipped (training, when the config asks), and standardised per channel
with the statistics stored in the cache.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .files import READ_CHUNK_BYTES, FileKindError, open_regular
from .rng import augment_draws, epoch_order, stratified_indices

CACHE_MAGIC = b"NINLABDS"
CACHE_VERSION = 2
CACHE_HEADER_BYTES = 128
# The sha256 covers [0, 32) and [_CHECKSUMMED_FROM, end).
_CHECKSUMMED_FROM = 64
CACHE_MAX_CHANNELS = 4
# magic, then version, trainCount, testCount, height, width, numClasses: uint32 little-endian.
_HEADER = struct.Struct("<8s6I")
# At 64: channels, reserved, then the per-channel mean and std (4 float32 each).
_EXTRA = struct.Struct("<2I4f4f")

FASHION_MNIST_CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


CIFAR10_CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def class_names_for(dataset: str, num_classes: int) -> List[str]:
    """Class names by dataset, as src/trainer/data/types.ts `classNamesFor` gives them (the Node
    side passes them in the job; this is for a hand-written standalone job)."""
    if dataset == "fashion-mnist" and num_classes == len(FASHION_MNIST_CLASS_NAMES):
        return list(FASHION_MNIST_CLASS_NAMES)
    if dataset == "cifar10" and num_classes == len(CIFAR10_CLASS_NAMES):
        return list(CIFAR10_CLASS_NAMES)
    return [str(i) for i in range(num_classes)]


class DataError(Exception):
    """A problem with the dataset cache, worded for the user (the message names the file)."""


@dataclass
class Split:
    """One labelled image set: uint8 images [count, C, H, W] and int64 labels [count]."""

    images: torch.Tensor
    labels: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def subset(self, indices: Optional[Sequence[int]]) -> "Split":
        """The images at `indices` (in that order); None keeps the whole set."""
        if indices is None:
            return self
        ix = torch.tensor(list(indices), dtype=torch.int64, device=self.labels.device)
        return Split(self.images.index_select(0, ix), self.labels.index_select(0, ix))


@dataclass
class CacheContents:
    height: int
    width: int
    num_classes: int
    train: Split
    test: Split
    channels: int = 1
    # Per-channel mean and std of the training pixels on the [0, 1] scale (float32 values).
    mean: Tuple[float, ...] = ()
    std: Tuple[float, ...] = ()


def read_cache(path: str) -> CacheContents:
    """Reads and checks a dataset cache file (size, magic, version, sha256, labels); raises
    DataError saying what is wrong. Bounded by the file's own header: the 64 header bytes are
    read first and the rest only when the file's size is exactly what they promise, so a FIFO, a
    device or a damaged header is refused before anything large is allocated. The tensors are
    views of the one buffer read."""

    def bad(reason: str) -> DataError:
        return DataError(
            f"dataset cache {path} is invalid: {reason}; delete it and the app rebuilds it"
        )

    try:
        f, size = open_regular(path)
    except FileNotFoundError:
        raise DataError(
            f"dataset cache {path} is missing: NiN Lab writes it when a run first uses the "
            "dataset; start the run from NiN Lab, or copy the cache file there"
        ) from None
    except FileKindError as err:
        raise DataError(
            f"dataset cache {err.strerror}: point the job at the cache file itself"
        ) from None
    except OSError as err:
        raise DataError(f"dataset cache {path} is unreadable ({err})") from None
    with f:
        try:
            header = f.read(CACHE_HEADER_BYTES)
            if len(header) < CACHE_HEADER_BYTES:
                raise bad(f"truncated ({size} bytes, shorter than the header)")
            magic, version, n_train, n_test, h, w, k = _HEADER.unpack_from(header, 0)
            if magic != CACHE_MAGIC:
                raise bad("not a NiN Lab dataset cache")
            if version != CACHE_VERSION:
                raise bad(f"format version {version}, expected {CACHE_VERSION}")
            extra = _EXTRA.unpack_from(header, _CHECKSUMMED_FROM)
            c = extra[0]
            if not 1 <= c <= CACHE_MAX_CHANNELS:
                raise bad(f"{c} channels in its header (1 to {CACHE_MAX_CHANNELS})")
            mean, std = tuple(extra[2 : 2 + c]), tuple(extra[6 : 6 + c])
            expected = CACHE_HEADER_BYTES + (n_train + n_test) * (1 + c * h * w)
            if size != expected:
                kind = "truncated" if size < expected else "too long"
                raise bad(f"{kind}: {size} bytes, expected {expected}")
            # One writable buffer, read in place (torch.frombuffer wants it writable; 55 MB).
            data = bytearray(expected)
            data[:CACHE_HEADER_BYTES] = header
            view = memoryview(data)
            got = CACHE_HEADER_BYTES
            while got < expected:
                n = f.readinto(view[got : got + READ_CHUNK_BYTES])  # type: ignore[attr-defined]
                if not n:
                    raise bad(f"truncated: {got} bytes, expected {expected}")
                got += n
        except OSError as err:
            raise DataError(f"dataset cache {path} is unreadable ({err})") from None

    digest = hashlib.sha256(view[:32])
    digest.update(view[_CHECKSUMMED_FROM:])
    if digest.digest() != bytes(view[32:64]):
        raise bad("checksum mismatch (corrupt)")

    everything = torch.frombuffer(data, dtype=torch.uint8)
    px = c * h * w
    labels_at = CACHE_HEADER_BYTES
    pixels_at = labels_at + n_train + n_test
    train_labels = everything[labels_at : labels_at + n_train]
    test_labels = everything[labels_at + n_train : pixels_at]
    for name, labels in (("train", train_labels), ("test", test_labels)):
        if labels.numel() and int(labels.max()) >= k:
            raise bad(f"a {name} label is {int(labels.max())}, not below numClasses {k}")
    train_images = everything[pixels_at : pixels_at + n_train * px].view(n_train, c, h, w)
    test_images = everything[pixels_at + n_train * px :].view(n_test, c, h, w)
    return CacheContents(
        height=h,
        width=w,
        num_classes=k,
        train=Split(train_images, train_labels.to(torch.int64)),
        test=Split(test_images, test_labels.to(torch.int64)),
        channels=c,
        mean=mean,
        std=std,
    )


def stratified_subset(split: Split, num_classes: int, limit: Optional[int], seed: int) -> Split:
    """subset.ts `stratifiedSubset`: the same images for the same (limit, seed)."""
    return split.subset(stratified_indices(split.labels.tolist(), num_classes, limit, seed))


def batch_count(count: int, batch_size: int) -> int:
    return -(-count // batch_size)


@dataclass
class Normalize:
    """Per-channel standardisation, (x - mean) · (1 / std): batches.ts's arithmetic in float32."""

    mean: torch.Tensor  # [1, C, 1, 1]
    scale: torch.Tensor  # [1, C, 1, 1]

    @staticmethod
    def of(mean: Sequence[float], std: Sequence[float], device: torch.device) -> "Normalize":
        scales = [1.0 / s if s > 0 else 1.0 for s in std]
        shape = (1, len(mean), 1, 1)
        return Normalize(
            torch.tensor(list(mean), dtype=torch.float32, device=device).view(shape),
            torch.tensor(scales, dtype=torch.float32, device=device).view(shape),
        )


@dataclass
class Augment:
    """One batch's crops and flips (rng.py `augment_draws`)."""

    padding: int
    oy: List[int]
    ox: List[int]
    flip: List[bool]


def augment_images(x: torch.Tensor, aug: Augment) -> torch.Tensor:
    """Crops each image of [B, C, S, S] from its zero-padded copy at (oy, ox), then mirrors the
    flipped ones: batches.ts's rule, out[y][x] = padded[y + oy][(flip ? S-1-x : x) + ox]."""
    s = x.shape[-1]
    p = aug.padding
    if p > 0:
        padded = F.pad(x, (p, p, p, p))
        x = torch.stack(
            [
                padded[b, :, oy : oy + s, ox : ox + s]
                for b, (oy, ox) in enumerate(zip(aug.oy, aug.ox))
            ]
        )
    flipped = [b for b, f in enumerate(aug.flip) if f]
    if flipped:
        ix = torch.tensor(flipped, dtype=torch.int64, device=x.device)
        x[ix] = x[ix].flip(-1)
    return x


def prepare_images(
    images: torch.Tensor,
    input_size: int,
    channels_last: bool,
    normalize: Optional[Normalize] = None,
    augment: Optional[Augment] = None,
) -> torch.Tensor:
    """uint8 [B, C, H, W] (or [B, H, W]: one channel) → float32 [B, C, S, S]: scaled to [0, 1]
    and resized bilinearly on their device, then augmented and standardised when asked."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    x = images.to(torch.float32).div_(255.0)
    if x.shape[-2] != input_size or x.shape[-1] != input_size:
        x = F.interpolate(
            x, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=False
        )
    if augment is not None:
        x = augment_images(x, augment)
    if normalize is not None:
        x = (x - normalize.mean) * normalize.scale
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class Batches:
    """The minibatches of one pass over a split (batches.ts `BatchIterator`): the epoch's seeded
    order when shuffling, else the stored order; the last batch keeps the remainder."""

    def __init__(
        self,
        split: Split,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        epoch: int = 0,
        crop_padding: int = 0,
        hflip: bool = False,
    ) -> None:
        self.split = split
        self.seed = seed
        self.epoch = epoch
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.batch_size = batch_size
        self.num_batches = batch_count(split.count, batch_size)
        device = split.labels.device
        if shuffle:
            order = epoch_order(split.count, seed, epoch)
            self.order: Optional[torch.Tensor] = torch.tensor(order, dtype=torch.int64).to(device)
        else:
            self.order = None

    def indices(self, k: int) -> Tuple[int, int]:
        start = k * self.batch_size
        return start, min(start + self.batch_size, self.split.count)

    def augment(self, k: int) -> Optional[Augment]:
        """Batch k's crops and flips (None when the batches do not augment)."""
        if self.crop_padding <= 0 and not self.hflip:
            return None
        start, end = self.indices(k)
        oy, ox, flip = augment_draws(
            self.seed, self.epoch, k, end - start, self.crop_padding, self.hflip
        )
        return Augment(self.crop_padding, oy, ox, flip)

    def batch(self, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Batch k as (uint8 images [B, C, H, W], int64 labels [B]) on the split's device."""
        start, end = self.indices(k)
        if self.order is None:
            return self.split.images[start:end], self.split.labels[start:end]
        ix = self.order[start:end]
        return self.split.images.index_select(0, ix), self.split.labels.index_select(0, ix)

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for k in range(self.num_batches):
            yield self.batch(k)
