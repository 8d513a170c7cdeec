"""rng.py against numbers computed by the TypeScript it ports (src/shared/random.ts,
src/trainer/data/batches.ts), so a drift on either side fails here without Node."""

from nin_torch import rng


def test_mulberry32_matches_typescript() -> None:
    r = rng.SeededRandom(42)
    assert [r.next(), r.next(), r.next()] == [
        0.3359855841845274,
        0.351981483399868,
        0.7685735300183296,
    ]
    top = rng.SeededRandom(2**31 - 1)  # the schema's largest seed
    assert [top.int(10) for _ in range(5)] == [7, 6, 4, 7, 1]


def test_epoch_order_is_a_seeded_permutation() -> None:
    assert rng.epoch_order(10, 7, 3) == [2, 3, 1, 8, 9, 0, 4, 7, 5, 6]
    assert sorted(rng.epoch_order(1000, 1, 2)) == list(range(1000))
    assert rng.epoch_order(1000, 1, 2) != rng.epoch_order(1000, 1, 3)


def test_augment_draws_match_typescript() -> None:
    assert rng.augment_seed(5, 2, 9) == 3501305903
    oy, ox, flip = rng.augment_draws(5, 2, 9, 4, crop_padding=4, hflip=True)
    assert (oy, ox, flip) == ([5, 7, 2, 8], [4, 1, 5, 6], [True, False, False, True])
    # No augmentation asked: the crop is the padding itself and nothing flips.
    assert rng.augment_draws(5, 2, 9, 3, 0, False) == ([0, 0, 0], [0, 0, 0], [False] * 3)


def test_class_quotas_water_fill() -> None:
    assert rng.class_quotas([10, 10, 10], 7) == [3, 2, 2]
    assert rng.class_quotas([1, 10, 10], 9) == [1, 4, 4]
    assert rng.class_quotas([2, 2], 10) == [2, 2]


def test_stratified_indices() -> None:
    labels = [i % 3 for i in range(30)]
    kept = rng.stratified_indices(labels, 3, 9, seed=4)
    assert kept is not None and kept == sorted(kept) and len(kept) == 9
    assert [sum(1 for i in kept if labels[i] == c) for c in range(3)] == [3, 3, 3]
    assert rng.stratified_indices(labels, 3, 9, seed=4) == kept
    assert rng.stratified_indices(labels, 3, None, seed=4) is None
    assert rng.stratified_indices(labels, 3, 30, seed=4) is None
