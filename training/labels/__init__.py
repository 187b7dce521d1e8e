"""ImageNet-1k's label hierarchy (generated from WordNet 3.0 by training.labels.build) and the
mapper from a user's label names onto ImageNet's classes."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from classifier.hierarchy import LabelHierarchy

HIERARCHY_FILE = "hierarchy.json"


def hierarchy_path() -> Traversable:
    """The committed hierarchy.json (package data)."""
    return resources.files(__name__).joinpath(HIERARCHY_FILE)


@lru_cache(maxsize=1)
def builtin_hierarchy() -> LabelHierarchy:
    """The committed hierarchy, read once per process."""
    return LabelHierarchy.from_json(hierarchy_path().read_text(encoding="utf-8"))
