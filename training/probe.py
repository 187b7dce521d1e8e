"""Which images an artifact's probe holds: a few the model was evaluated on, chosen the same
way every run, so that promotion can rerun the model on them (`classifier.verify`)."""

from __future__ import annotations

import numpy as np

from classifier.verify import PROBE_IMAGES
from training.data import LoadedImages


def probe_images(*pools: LoadedImages | np.ndarray | None, count: int = PROBE_IMAGES) -> np.ndarray:
    """Up to `count` images (N x H x W x 3 uint8) of the first pool that has any: with labels,
    the first image of each class in turn, so that the probe spans labels and a wrong model
    is likely to answer one of them differently; without, the first images."""
    for pool in pools:
        if pool is None:
            continue
        images = pool.images if isinstance(pool, LoadedImages) else pool
        if not len(images):
            continue
        if isinstance(pool, LoadedImages):
            chosen = _one_class_at_a_time(pool.label_ids)[:count]
        else:
            chosen = np.arange(min(count, len(images)))
        return np.asarray(images[chosen], np.uint8)
    return np.zeros((0, 0, 0, 3), np.uint8)


def _one_class_at_a_time(label_ids: np.ndarray) -> np.ndarray:
    """Indices ordered by how many of the image's class came before it, then by index."""
    seen: dict[int, int] = {}
    rank = np.zeros(len(label_ids), np.int64)
    for index, label in enumerate(np.asarray(label_ids).tolist()):
        rank[index] = seen.get(label, 0)
        seen[label] = rank[index] + 1
    return np.argsort(rank, kind="stable")
