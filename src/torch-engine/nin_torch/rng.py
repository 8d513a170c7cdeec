"""The seeded generator of src/shared/random.ts (mulberry32), ported bit for bit, and the data
rules built on it: the per-epoch shuffle (src/trainer/data/batches.ts, `epochOrder`), the
augmentation draws of a batch (batches.ts, `augmentDraws`) and the stratified subset
(src/trainer/data/subset.ts, `stratifiedSubset`).

Both engines must see the same images in the same order, so nothing here may drift from the
TypeScript side: tests/unit/torch/ compares the outputs for several seeds. Pure Python (no
torch), so it runs anywhere.

JavaScript does this arithmetic on 32-bit integers (`Math.imul`, `>>> 0`, `^`); here every value
is kept as an unsigned 32-bit integer and reduced with `& MASK`, which gives the same bits: the
low 32 bits of a sum or product do not depend on whether the operands were read as signed.
"""

from __future__ import annotations

from typing import List, MutableSequence, Sequence, Tuple, TypeVar

MASK = 0xFFFFFFFF
T = TypeVar("T")

# batches.ts: `new SeededRandom(seed * 1000003 + epoch)`. The schema caps seed at 2^31 - 1, so the
# product stays below 2^53 and JavaScript's double arithmetic is exact, as Python's ints are.
EPOCH_SEED_FACTOR = 1_000_003


def _imul(a: int, b: int) -> int:
    """Math.imul as an unsigned 32-bit result."""
    return (a * b) & MASK


def _to_uint32(x: int) -> int:
    """JavaScript's `x >>> 0` for an integral number (ToUint32: modulo 2^32)."""
    return x % 0x1_0000_0000


class SeededRandom:
    """mulberry32 with the seed mixing of src/shared/random.ts; the state is one uint32."""

    def __init__(self, seed: int) -> None:
        self.state = (_imul(_to_uint32(seed), 0x9E3779B1) ^ 0x85EBCA6B) & MASK

    def next_uint32(self) -> int:
        """The next raw 32-bit output (`next()` before the division by 2^32)."""
        self.state = (self.state + 0x6D2B79F5) & MASK
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & MASK
        return (t ^ (t >> 14)) & MASK

    def next(self) -> float:
        """Uniform in [0, 1): exactly the double JavaScript computes."""
        return self.next_uint32() / 4294967296

    def int(self, n: int) -> int:
        """Uniform integer in [0, n): `Math.floor(next() * n)` with the same double product."""
        return int(self.next() * n)

    def shuffle(self, items: MutableSequence[T]) -> MutableSequence[T]:
        """Fisher–Yates in place, drawing exactly as the TypeScript version does."""
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def epoch_order(count: int, seed: int, epoch: int) -> List[int]:
    """The order of one training epoch (batches.ts `epochOrder`): seeded by (seed, epoch) only."""
    return list(SeededRandom(seed * EPOCH_SEED_FACTOR + epoch).shuffle(list(range(count))))


def augment_seed(seed: int, epoch: int, batch: int) -> int:
    """batches.ts `augmentSeed`: the seed of batch `batch`'s crops and flips in `epoch`."""
    return (
        _imul(_to_uint32(seed), 0x27D4EB2F)
        ^ _imul(_to_uint32(epoch), 0x165667B1)
        ^ _imul(_to_uint32(batch + 1), 0x85EBCA77)
    ) & MASK


def augment_draws(
    seed: int, epoch: int, batch: int, size: int, crop_padding: int, hflip: bool
) -> Tuple[List[int], List[int], List[bool]]:
    """batches.ts `augmentDraws`: per image, in batch order, the crop offsets into the padded
    image (y, then x; only when crop_padding > 0, else the padding itself) and the flip
    (next() < 0.5; only when hflip)."""
    r = SeededRandom(augment_seed(seed, epoch, batch))
    oy = [crop_padding] * size
    ox = [crop_padding] * size
    flip = [False] * size
    for b in range(size):
        if crop_padding > 0:
            oy[b] = r.int(2 * crop_padding + 1)
            ox[b] = r.int(2 * crop_padding + 1)
        if hflip:
            flip[b] = r.next() < 0.5
    return oy, ox, flip


def class_quotas(available: Sequence[int], limit: int) -> List[int]:
    """Per-class quotas summing to `limit`, as equal as the class sizes allow (subset.ts
    `classQuotas`): water-filling, the remainder one image at a time, lowest label first."""
    quotas = [0] * len(available)
    left = limit
    while left > 0:
        open_classes = [c for c in range(len(available)) if quotas[c] < available[c]]
        if not open_classes:
            break
        share = left // len(open_classes)
        if share == 0:
            for c in open_classes[:left]:
                quotas[c] += 1
            break
        for c in open_classes:
            take = min(share, available[c] - quotas[c])
            quotas[c] += take
            left -= take
    return quotas


def stratified_indices(
    labels: Sequence[int], num_classes: int, limit: int | None, seed: int
) -> List[int] | None:
    """The indices `stratifiedSubset` keeps, in ascending order, or None when it keeps the whole
    set (no limit, or a limit at least the set's size)."""
    count = len(labels)
    if limit is None or limit >= count:
        return None
    if limit < 1:
        raise ValueError(f"data limit must be a positive whole number or null, got {limit}")
    by_class: List[List[int]] = [[] for _ in range(num_classes)]
    for i, label in enumerate(labels):
        by_class[label].append(i)
    quotas = class_quotas([len(ix) for ix in by_class], limit)
    rng = SeededRandom(seed)
    chosen: List[int] = []
    for c, indices in enumerate(by_class):
        rng.shuffle(indices)
        chosen.extend(indices[: quotas[c]])
    chosen.sort()
    if len(chosen) != limit:
        raise RuntimeError(f"internal: subset has {len(chosen)} images, wanted {limit}")
    return chosen
