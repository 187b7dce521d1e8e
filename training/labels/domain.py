"""A label set's domain in ImageNet: the classes of the same kind as its labels.

The evidence that an image shows none of a model's labels is ImageNet's mass on classes no
label owns (classifier.model). Mass on any such class is weak evidence: ImageNet often sees
the barn behind a cow. Mass on a class of the labels' own kind is strong evidence: a giraffe
photo, to a model of farm animals. The domain is that kind, found through the hierarchy:
a label's classes meet the nearest classes of another label at a lowest common ancestor
(a tabby and a beagle: carnivore; a hammer and a screwdriver: hand tool), and the domain is
every ImageNet class under those ancestors. model.json records it as ranges of class
indices (`output.domain`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from classifier.hierarchy import LabelHierarchy
from training.labels import builtin_hierarchy

# An ancestor over half of ImageNet ("artifact", "object") names no kind.
MAX_DOMAIN_SHARE = 0.5


def domain_classes(
    mapping: Mapping[str, Sequence[int]], hierarchy: LabelHierarchy | None = None
) -> tuple[int, ...]:
    """The ImageNet classes of the labels' kind, sorted; () (every class counts) when fewer
    than two labels map or no ancestor is specific enough.

    Each class a label owns meets the nearest class of another label at their lowest common
    ancestor; the label's kind is where most of its classes meet (so a stray class, like the
    "horse cart" a horse label owns, does not make "artifact" the kind of a set of animals).
    The domain is every class under the labels' kinds, leaving out a kind above
    MAX_DOMAIN_SHARE of ImageNet."""
    hierarchy = hierarchy or builtin_hierarchy()
    groups = [frozenset(indices) for indices in mapping.values() if indices]
    if len(groups) < 2:
        return ()
    under = _classes_under_nodes(hierarchy)
    limit = MAX_DOMAIN_SHARE * len(hierarchy.class_ids)
    domain: set[int] = set()
    for i, group in enumerate(groups):
        others = frozenset().union(*(g for j, g in enumerate(groups) if j != i))
        meetings: Counter[str] = Counter()
        for index in group:
            class_id = hierarchy.class_ids[index]
            chain = sorted((class_id, *hierarchy.ancestors[class_id]), key=lambda n: len(under[n]))
            meeting = next((n for n in chain if not others.isdisjoint(under[n])), None)
            if meeting is not None:
                meetings[meeting] += 1
        if meetings:
            # Where most of the label's classes meet the others; a tie, the narrower kind.
            kind = min(meetings, key=lambda n: (-meetings[n], len(under[n]), n))
            if len(under[kind]) <= limit:
                domain.update(under[kind])
    return tuple(sorted(domain))


def as_ranges(indices: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Sorted class indices as (low, high) runs: (0, 1, 2, 7) -> ((0, 2), (7, 7))."""
    ranges: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], index)
        else:
            ranges.append((index, index))
    return tuple(ranges)


def domain_of(mapping: Mapping[str, Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """model.json's `output.domain` for a label -> ImageNet classes mapping."""
    return as_ranges(domain_classes(mapping))


def _classes_under_nodes(hierarchy: LabelHierarchy) -> dict[str, frozenset[int]]:
    under: dict[str, set[int]] = {node_id: set() for node_id in hierarchy.nodes}
    for index, class_id in enumerate(hierarchy.class_ids):
        for node_id in (class_id, *hierarchy.ancestors[class_id]):
            under[node_id].add(index)
    return {node_id: frozenset(indices) for node_id, indices in under.items()}
