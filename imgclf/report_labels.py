"""The generic labels of a run, counted and grouped for the demo's summary and report (pure).

Items store only names and confidences (`labels`, already at or above the model's minimum);
categories and parents come from the hierarchy when read, as `imgclf result --format
detect-labels` derives them. A name the hierarchy does not know falls in OTHER_CATEGORY.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classifier.contracts import Status
from classifier.hierarchy import LabelHierarchy
from classifier.results import item_labels

OTHER_CATEGORY = "Other"
LABELS_PER_CATEGORY = 8
EXAMPLES_PER_LABEL = 4


@dataclass(frozen=True)
class Example:
    """One image that carries a label, with the label's confidence on it."""

    key: str
    confidence: float


@dataclass(frozen=True)
class LabelGroup:
    """One generic label of the run: how many images carry it, and the best examples."""

    name: str
    count: int
    parent: str | None  # the nearest visible parent in the hierarchy, when it knows one
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class Category:
    """A category's most frequent labels; `images`: how many images carry any of its labels,
    `hidden`: how many of its labels are left out."""

    name: str
    images: int
    labels: tuple[LabelGroup, ...]
    hidden: int


def labelled_items(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The classified items that carry generic labels."""
    return [i for i in items if i.get("status") == Status.CLASSIFIED and item_labels(i)]


def label_counts(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Each generic label with the number of classified images carrying it, most first
    (ties by name)."""
    counts = Counter(name for item in labelled_items(items) for name, _ in item_labels(item))
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def categories_of(name: str, hierarchy: LabelHierarchy | None) -> tuple[str, ...]:
    """A label's categories in the hierarchy (its nearest categorised ancestor's), or
    (OTHER_CATEGORY,) when it has none or the hierarchy does not know it."""
    node = hierarchy.find(name) if hierarchy is not None else None
    found = hierarchy.categories_of(node) if hierarchy is not None and node is not None else ()
    return found or (OTHER_CATEGORY,)


def label_categories(
    items: Sequence[Mapping[str, Any]],
    hierarchy: LabelHierarchy | None,
    *,
    per_category: int = LABELS_PER_CATEGORY,
    examples: int = EXAMPLES_PER_LABEL,
) -> list[Category]:
    """The run's generic labels by category: per category its `per_category` most frequent
    labels, each with up to `examples` images (the most confident, preferring images not
    already shown in the category); categories with the most images first, OTHER last."""
    carriers: dict[str, list[Example]] = defaultdict(list)
    for item in labelled_items(items):
        for name, confidence in item_labels(item):
            carriers[name].append(Example(str(item["key"]), confidence))
    by_category: dict[str, list[str]] = defaultdict(list)
    for name, _ in label_counts(items):
        for category in categories_of(name, hierarchy):
            by_category[category].append(name)
    categories = []
    for category, names in by_category.items():
        shown: set[str] = set()
        groups = []
        for name in names[:per_category]:
            chosen = _examples(carriers[name], shown, examples)
            shown.update(example.key for example in chosen)
            groups.append(LabelGroup(name, len(carriers[name]), _parent(name, hierarchy), chosen))
        images = {example.key for name in names for example in carriers[name]}
        categories.append(
            Category(category, len(images), tuple(groups), max(0, len(names) - per_category))
        )
    return sorted(categories, key=lambda c: (c.name == OTHER_CATEGORY, -c.images, c.name.lower()))


def _examples(carriers: Sequence[Example], shown: set[str], count: int) -> tuple[Example, ...]:
    """The most confident carriers, those not yet shown in the category first; shown most
    confident first."""
    ranked = sorted(carriers, key=lambda e: (e.key in shown, -e.confidence, e.key))
    return tuple(sorted(ranked[:count], key=lambda e: (-e.confidence, e.key)))


def _parent(name: str, hierarchy: LabelHierarchy | None) -> str | None:
    parents = hierarchy.parent_names(name) if hierarchy is not None else ()
    return parents[0] if parents else None


def summary_line(items: Sequence[Mapping[str, Any]], width: int = 100) -> str:
    """`generic labels (412 of 418 classified): animal 180, dog 61, …`, as many labels as fit
    `width` characters, most frequent first."""
    classified = sum(1 for i in items if i.get("status") == Status.CLASSIFIED)
    carrying = len(labelled_items(items))
    head = f"generic labels ({carrying} of {classified} classified)"
    if not carrying:
        return f"{head}: none, the live model writes none"
    counts = label_counts(items)
    line = f"{head}:"
    for index, (name, count) in enumerate(counts):
        more = ", …" if index + 1 < len(counts) else ""
        candidate = f"{line}{',' if index else ''} {name} {count}"
        if len(candidate + more) > width:
            return line + ", …" if index else f"{head}: {len(counts)} labels"
        line = candidate
    return line
