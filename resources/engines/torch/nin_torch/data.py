"""The dataset side of the torch engine: the reader of the binary dataset cache the TypeScript
data layer writes (src/trainer/data/cache.ts documents the byte layout; one data pipeline,
two readers), the stratified subset and the per-epoch shuffle (via ./rng.py, bitwise the
TypeScript rules), and minibatches resized on the device.

Images stay uint8 on the device (47 MB for all of Fashion-MNIST); each batch is gathered,
scaled to [0, 1] and resized there with torch's bilinear interpolation (half-pixel centres, no
antialiasing), the convention src/trainer/data/resize.ts implements for the tfjs engine.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .files import READ_CHUNK_BYTES, FileKindError, open_regular
from .rng import epoch_order, stratified_indices

CACHE_MAGIC = b"NINLABDS"
CACHE_VERSION = 1
CACHE_HEADER_BYTES = 64
# magic, then version, trainCount, testCount, height, width, numClasses: uint32 little-endian.
_HEADER = struct.Struct("<8s6I")

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


def class_names_for(dataset: str, num_classes: int) -> List[str]:
    """Class names by dataset, as src/trainer/data/types.ts `classNamesFor` gives them."""
    if dataset == "fashion-mnist" and num_classes == len(FASHION_MNIST_CLASS_NAMES):
        return list(FASHION_MNIST_CLASS_NAMES)
    return [str(i) for i in range(num_classes)]


class DataError(Exception):
    """A problem with the dataset cache, worded for the user (the message names the file)."""


@dataclass
class Split:
    """One labelled image set: uint8 images [count, H, W] and int64 labels [count]."""

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
            expected = CACHE_HEADER_BYTES + (n_train + n_test) * (1 + h * w)
            if size != expected:
                kind = "truncated" if size < expected else "too long"
                raise bad(f"{kind}: {size} bytes, expected {expected}")
            # One writable buffer, read in place (torch.frombuffer wants it writable; 55 MB).
            data = bytearray(expected)
            data[:CACHE_HEADER_BYTES] = header
            view = memoryview(data)
            got = CACHE_HEADER_BYTES
            while got < expected:
                n = f.readinto(view[got : got + READ_CHUNK_BYTES])
                if not n:
                    raise bad(f"truncated: {got} bytes, expected {expected}")
                got += n
        except OSError as err:
            raise DataError(f"dataset cache {path} is unreadable ({err})") from None

    digest = hashlib.sha256(view[:32])
    digest.update(view[CACHE_HEADER_BYTES:])
    if digest.digest() != bytes(view[32:64]):
        raise bad("checksum mismatch (corrupt)")

    everything = torch.frombuffer(data, dtype=torch.uint8)
    px = h * w
    labels_at = CACHE_HEADER_BYTES
    pixels_at = labels_at + n_train + n_test
    train_labels = everything[labels_at : labels_at + n_train]
    test_labels = everything[labels_at + n_train : pixels_at]
    for name, labels in (("train", train_labels), ("test", test_labels)):
        if labels.numel() and int(labels.max()) >= k:
            raise bad(f"a {name} label is {int(labels.max())}, not below numClasses {k}")
    train_images = everything[pixels_at : pixels_at + n_train * px].view(n_train, h, w)
    test_images = everything[pixels_at + n_train * px :].view(n_test, h, w)
    return CacheContents(
        height=h,
        width=w,
        num_classes=k,
        train=Split(train_images, train_labels.to(torch.int64)),
        test=Split(test_images, test_labels.to(torch.int64)),
    )


def stratified_subset(split: Split, num_classes: int, limit: Optional[int], seed: int) -> Split:
    """subset.ts `stratifiedSubset`: the same images for the same (limit, seed)."""
    return split.subset(stratified_indices(split.labels.tolist(), num_classes, limit, seed))


def batch_count(count: int, batch_size: int) -> int:
    return -(-count // batch_size)


def prepare_images(images: torch.Tensor, input_size: int, channels_last: bool) -> torch.Tensor:
    """uint8 [B, H, W] → float32 [B, 1, S, S] in [0, 1], resized bilinearly on their device."""
    x = images.unsqueeze(1).to(torch.float32).div_(255.0)
    if x.shape[-2] != input_size or x.shape[-1] != input_size:
        x = F.interpolate(
            x, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=False
        )
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
    ) -> None:
        self.split = split
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

    def batch(self, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Batch k as (uint8 images [B, H, W], int64 labels [B]) on the split's device."""
        start, end = self.indices(k)
        if self.order is None:
            return self.split.images[start:end], self.split.labels[start:end]
        ix = self.order[start:end]
        return self.split.images.index_select(0, ix), self.split.labels.index_select(0, ix)

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for k in range(self.num_batches):
            yield self.batch(k)
