"""Batches, crops, flips and normalisation (data.py) on small made-up tensors."""

import torch

from nin_torch import data


def _split(n: int, size: int = 4) -> data.Split:
    images = torch.arange(n * size * size, dtype=torch.int64).remainder(256).to(torch.uint8)
    return data.Split(images.view(n, 1, size, size), torch.arange(n, dtype=torch.int64))


def test_batches_cover_the_epoch_order_once() -> None:
    b = data.Batches(_split(10), batch_size=4, shuffle=True, seed=7, epoch=3)
    assert b.num_batches == 3 and data.batch_count(10, 4) == 3
    labels = torch.cat([y for _, y in b]).tolist()
    assert labels == [2, 3, 1, 8, 9, 0, 4, 7, 5, 6]  # rng.epoch_order(10, 7, 3)
    assert [len(y) for _, y in b] == [4, 4, 2]


def test_unshuffled_batches_keep_the_stored_order() -> None:
    b = data.Batches(_split(5), batch_size=2, shuffle=False)
    assert [y.tolist() for _, y in b] == [[0, 1], [2, 3], [4]]
    assert b.augment(0) is None


def test_crop_and_flip_follow_the_rule() -> None:
    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
    aug = data.Augment(padding=1, oy=[0, 1], ox=[1, 2], flip=[False, True])
    out = data.augment_images(x.clone(), aug)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    assert torch.equal(out[0], padded[0, :, 0:3, 1:4])
    assert torch.equal(out[1], padded[1, :, 1:4, 2:5].flip(-1))


def test_batch_augmentation_uses_the_seeded_draws() -> None:
    b = data.Batches(_split(6), batch_size=3, shuffle=True, seed=5, epoch=2, crop_padding=4)
    aug = b.augment(1)
    assert aug is not None and len(aug.oy) == 3
    again = data.Batches(_split(6), batch_size=3, shuffle=True, seed=5, epoch=2, crop_padding=4)
    assert again.augment(1) == aug  # a resumed run repeats the draws


def test_prepare_images_scales_resizes_and_normalises() -> None:
    images = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    x = data.prepare_images(images, 8, channels_last=False)
    assert x.shape == (2, 1, 8, 8) and torch.allclose(x, torch.ones_like(x))
    norm = data.Normalize.of([0.5], [0.25], torch.device("cpu"))
    y = data.prepare_images(images, 4, channels_last=True, normalize=norm)
    assert torch.allclose(y, torch.full_like(y, 2.0))
    assert y.is_contiguous(memory_format=torch.channels_last)
