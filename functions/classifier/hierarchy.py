"""The label hierarchy over ImageNet-1k's classes: generic labels at every level.

ImageNet-1k's classes are WordNet 3.0 noun synsets, so each class has a chain of hypernyms:
golden retriever -> retriever -> dog -> canine -> mammal -> animal. training/labels/ derives
that hierarchy offline (with a reviewed override list) into `hierarchy.json`, which travels
inside every model artifact that outputs ImageNet's logits; the function never needs WordNet.

hierarchy.json (format 1):

    {"format": 1, "version": "...", "source": "...",
     "classes": ["n01440764", ...],            # the node id of each ImageNet class, in order
     "nodes": {"n02084071": {"name": "dog", "aliases": ["domestic dog"],
                             "parents": ["n02083346"], "categories": ["Animals and Pets"],
                             "gloss": "...", "hidden": false}, ...}}

A node's `parents` are its direct parents (WordNet has a few nodes with two); `hidden` nodes
(entity, object, organism, ...) stay in the graph, so ancestry runs through them, but are never
a label. Node names are unique among the visible nodes, and no alias is another visible node's
name. A node's confidence is the summed probability of the ImageNet classes under it, so a
parent is never less confident than its child.

Pure: numpy and the standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from . import word_forms
from .hierarchy_words import HierarchyWords

HIERARCHY_FORMAT = 1

# Which generic labels an image keeps (the function's GENERIC_MIN_CONFIDENCE and MAX_LABELS,
# cdk.json `generic_min_confidence` and `max_labels`): chosen on the generic photo set's tune
# split (bench/generic_labels.py; docs/benchmarks.md gives the curve), not DetectLabels' 55.
# At 0.15 a second thing in a photo (the mug beside the cat) can reach a label of its own;
# 10 labels keep both branches' most specific labels (a branch runs up to 8 deep).
DEFAULT_MIN_CONFIDENCE = 0.15
DEFAULT_MAX_LABELS = 10
# Evidence: a label under a majority also needs one ImageNet class of its own at this
# probability or more. Mass spread thin over hundreds of classes (0.25 of "animal" on a
# drawing of a tree, none of its 398 classes above 0.02) is no label; chosen with the minimum.
DEFAULT_MIN_EVIDENCE = 0.075
MAJORITY = 0.5


def gloss_clause(gloss: str) -> str:
    """A gloss's first clause, before its first semicolon ("a short coat")."""
    return gloss.split(";")[0].strip()


class HierarchyError(ValueError):
    """hierarchy.json is malformed, or does not fit the model's outputs."""


@dataclass(frozen=True)
class Node:
    """One label of the hierarchy, as the reader sees it."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()  # direct parents' ids (hidden ones included)
    categories: tuple[str, ...] = ()
    gloss: str = ""
    hidden: bool = False


@dataclass(frozen=True)
class GenericLabel:
    """One generic label of one image: a visible node's name and its summed probability."""

    name: str
    confidence: float


@dataclass(frozen=True)
class LabelSettings:
    """Which generic labels an image keeps: every label at `min_confidence` or more whose
    most probable class reaches `min_evidence` (or that holds a majority), at most
    `max_labels` of them."""

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    max_labels: int = DEFAULT_MAX_LABELS
    min_evidence: float = DEFAULT_MIN_EVIDENCE

    def __post_init__(self) -> None:
        if not 0.0 < self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within (0, 1], got {self.min_confidence}")
        if self.max_labels < 1:
            raise ValueError(f"max_labels must be at least 1, got {self.max_labels}")
        if not 0.0 <= self.min_evidence <= 1.0:
            raise ValueError(f"min_evidence must be within [0, 1], got {self.min_evidence}")


@dataclass(frozen=True)
class Lineage:
    """What a label derives from the hierarchy when read: DetectLabels' Parents, Aliases and
    Categories."""

    name: str
    parents: tuple[str, ...]  # every visible ancestor, nearest first
    aliases: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class LabelHierarchy:
    """The hierarchy of one model: which ImageNet classes each visible label gathers."""

    version: str
    source: str
    class_ids: tuple[str, ...]
    nodes: Mapping[str, Node]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = sorted({c for c in self.class_ids if c not in self.nodes})
        if missing:
            raise HierarchyError(f"hierarchy classes name unknown nodes: {', '.join(missing[:3])}")
        for node in self.nodes.values():
            unknown = [p for p in node.parents if p not in self.nodes]
            if unknown:
                raise HierarchyError(f"node {node.name!r} has unknown parent {unknown[0]!r}")
        seen: dict[str, str] = {}
        for node in self.visible:
            key = node.name.lower()
            if key in seen:
                raise HierarchyError(f"two labels are named {node.name!r}")
            seen[key] = node.id
        self.ancestors  # noqa: B018 - a cycle fails here, at load, not at the first image

    # --- reading --------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> LabelHierarchy:
        """A hierarchy from hierarchy.json's parsed content; HierarchyError when malformed."""
        try:
            if int(data["format"]) != HIERARCHY_FORMAT:
                raise HierarchyError(f"hierarchy format {data['format']} is not supported")
            nodes = {
                str(node_id): Node(
                    id=str(node_id),
                    name=str(raw["name"]),
                    aliases=tuple(str(a) for a in raw.get("aliases", ())),
                    parents=tuple(str(p) for p in raw.get("parents", ())),
                    categories=tuple(str(c) for c in raw.get("categories", ())),
                    gloss=str(raw.get("gloss", "")),
                    hidden=bool(raw.get("hidden", False)),
                )
                for node_id, raw in dict(data["nodes"]).items()
            }
            known = {"format", "version", "source", "classes", "nodes"}
            return cls(
                version=str(data["version"]),
                source=str(data.get("source", "")),
                class_ids=tuple(str(c) for c in data["classes"]),
                nodes=nodes,
                extra={k: v for k, v in dict(data).items() if k not in known},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, HierarchyError):
                raise
            raise HierarchyError(f"hierarchy.json is malformed: {error!r}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> LabelHierarchy:
        """A hierarchy from hierarchy.json's text."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise HierarchyError(f"hierarchy.json is not JSON: {error}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """hierarchy.json's content."""
        nodes: dict[str, Any] = {}
        for node in self.nodes.values():
            raw: dict[str, Any] = {"name": node.name}
            for name in ("aliases", "parents", "categories"):
                if getattr(node, name):
                    raw[name] = list(getattr(node, name))
            if node.gloss:
                raw["gloss"] = node.gloss
            if node.hidden:
                raw["hidden"] = True
            nodes[node.id] = raw
        return {
            "format": HIERARCHY_FORMAT,
            "version": self.version,
            "source": self.source,
            **self.extra,
            "classes": list(self.class_ids),
            "nodes": nodes,
        }

    def check_outputs(self, classes: int) -> None:
        """HierarchyError unless the hierarchy covers exactly `classes` source classes."""
        if len(self.class_ids) != classes:
            raise HierarchyError(
                f"hierarchy {self.version} covers {len(self.class_ids)} classes but the model "
                f"outputs {classes}"
            )

    # --- structure --------------------------------------------------------------------------

    @cached_property
    def visible(self) -> tuple[Node, ...]:
        """The nodes that can be labels, in the file's order."""
        return tuple(node for node in self.nodes.values() if not node.hidden)

    @cached_property
    def ancestors(self) -> dict[str, tuple[str, ...]]:
        """Every node's ancestors (ids, hidden included), nearest first (breadth first),
        each once."""
        result: dict[str, tuple[str, ...]] = {}
        for node_id in self.nodes:
            found: list[str] = []
            frontier = list(self.nodes[node_id].parents)
            while frontier:
                following: list[str] = []
                for parent in frontier:
                    if parent == node_id:
                        raise HierarchyError(f"the hierarchy has a cycle through {node_id!r}")
                    if parent not in found:
                        found.append(parent)
                        following.extend(self.nodes[parent].parents)
                frontier = following
            result[node_id] = tuple(found)
        return result

    @cached_property
    def _by_name(self) -> dict[str, Node]:
        return {node.name.lower(): node for node in self.visible}

    @cached_property
    def _by_alias(self) -> dict[str, Node]:
        index: dict[str, Node] = {}
        for node in self.visible:
            for alias in node.aliases:
                index.setdefault(alias.lower(), node)
        return index

    @cached_property
    def _classes_of(self) -> dict[str, tuple[int, ...]]:
        """Visible node id -> the ImageNet class indices under it (itself included)."""
        under: dict[str, list[int]] = {node.id: [] for node in self.visible}
        for index, class_id in enumerate(self.class_ids):
            for node_id in (class_id, *self.ancestors[class_id]):
                if node_id in under:
                    under[node_id].append(index)
        return {node_id: tuple(indices) for node_id, indices in under.items() if indices}

    @cached_property
    def labelled(self) -> tuple[Node, ...]:
        """The visible nodes with at least one ImageNet class under them: the label set."""
        return tuple(node for node in self.visible if node.id in self._classes_of)

    @cached_property
    def _sum_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The sparse nodes x classes 0/1 matrix as (class indices in node order, each
        node's start offset), for one np.add.reduceat per image."""
        flat: list[int] = []
        starts: list[int] = []
        for node in self.labelled:
            starts.append(len(flat))
            flat.extend(self._classes_of[node.id])
        return np.asarray(flat, np.intp), np.asarray(starts, np.intp)

    def classes_of(self, name: str) -> tuple[int, ...]:
        """The ImageNet class indices under a label (name or alias)."""
        node = self.find(name)
        return () if node is None else self._classes_of.get(node.id, ())

    # --- names ------------------------------------------------------------------------------

    def find(self, word: str) -> Node | None:
        """The visible node a word names (its name first, then an alias), case-insensitive."""
        key = word_forms.normalised(word)
        return self._by_name.get(key) or self._by_alias.get(key)

    def search(self, word: str) -> Node | None:
        """The node a query word names (`HierarchyWords.search`)."""
        return self.words.search(word)

    def suggest(self, word: str, count: int = 3) -> list[str]:
        """Label names close to a word that names none (`HierarchyWords.suggest`)."""
        return self.words.suggest(word, count)

    def descendants(self, word: str) -> tuple[str, ...]:
        """The node a word names and every visible label under it, by name
        (`HierarchyWords.descendants`)."""
        return self.words.descendants(word)

    @cached_property
    def words(self) -> HierarchyWords:
        """The query side: which node a word names (built once, when first asked)."""
        return HierarchyWords(self)

    def lineage(self, name: str) -> Lineage | None:
        """A label's visible ancestors, aliases and categories (None: not a label)."""
        node = self.find(name)
        if node is None:
            return None
        parents = tuple(self.nodes[a].name for a in self._nearest_first(node.id))
        return Lineage(node.name, parents, node.aliases, self.categories_of(node))

    def _nearest_first(self, node_id: str) -> tuple[str, ...]:
        """A node's visible ancestors' ids by how many visible steps up they are, and the
        more specific (more ancestors of its own) first among equals: a game bird's parents
        are bird, then animal (it is game too); peafowl's pheasant, game bird, bird, animal."""
        levels = self._levels(node_id, self._visible_parents)
        steps = {a: step for step, level in enumerate(levels, 1) for a in level}
        return tuple(sorted(steps, key=lambda a: (steps[a], -len(self.ancestors[a]))))

    def _levels(
        self, node_id: str, parents_of: Callable[[str], Iterable[str]]
    ) -> Iterator[list[str]]:
        """A node's ancestors one step up at a time, each once: its parents, then theirs."""
        frontier, seen = [node_id], {node_id}
        while frontier:
            reached = (p for current in frontier for p in parents_of(current))
            frontier = [p for p in dict.fromkeys(reached) if p not in seen]
            seen.update(frontier)
            if frontier:
                yield frontier

    def _visible_parents(self, node_id: str) -> list[str]:
        """A node's direct visible parents' ids (through hidden nodes), each once."""
        found: list[str] = []
        for parent in self.nodes[node_id].parents:
            for reached in (
                [parent] if not self.nodes[parent].hidden else self._visible_parents(parent)
            ):
                if reached not in found:
                    found.append(reached)
        return found

    def categories_of(self, node: Node) -> tuple[str, ...]:
        """A node's categories, else those of its nearest ancestors that have some, by steps
        up; all of them when several are as near (a dome is a roof and a building: Buildings
        and Architecture as well as Everyday Objects), the more specific ancestor's first."""
        if node.categories:
            return node.categories
        for level in self._levels(node.id, lambda current: self.nodes[current].parents):
            level.sort(key=lambda a: -len(self.ancestors[a]))
            found = [category for a in level for category in self.nodes[a].categories]
            if found:
                return tuple(dict.fromkeys(found))
        return ()

    def parent_names(self, name: str) -> tuple[str, ...]:
        """The direct visible parents of a label (through hidden nodes)."""
        node = self.find(name)
        if node is None:
            return ()
        return tuple(self.nodes[parent].name for parent in self._visible_parents(node.id))

    # --- labelling --------------------------------------------------------------------------

    def confidences(self, probabilities: np.ndarray) -> np.ndarray:
        """Each labelled node's summed probability (rows of a batch, or one row)."""
        return np.add.reduceat(self._gathered(probabilities), self._sum_plan[1], axis=-1)

    def _gathered(self, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities in node order (the sum plan's class indices), checked."""
        values = np.asarray(probabilities, np.float64)
        if values.shape[-1] != len(self.class_ids):
            raise HierarchyError(
                f"{values.shape[-1]} probabilities for a hierarchy of {len(self.class_ids)}"
            )
        return values[..., self._sum_plan[0]]

    def labels(
        self,
        probabilities: np.ndarray,
        min_confidence: float,
        max_labels: int,
        min_evidence: float = 0.0,
    ) -> list[GenericLabel]:
        """One image's labels: every labelled node at `min_confidence` or more whose most
        probable class reaches `min_evidence` or that holds a MAJORITY, most confident
        first, at most `max_labels` (ties: the more specific first)."""
        gathered, starts = self._gathered(probabilities), self._sum_plan[1]
        sums = np.add.reduceat(gathered, starts, axis=-1)
        kept = sums >= min_confidence
        if min_evidence > 0.0:
            evidence = np.maximum.reduceat(gathered, starts, axis=-1)
            kept &= (evidence >= min_evidence) | (sums >= MAJORITY)
        chosen = [int(i) for i in np.flatnonzero(kept)]
        nodes = self.labelled
        depth = self._depths
        order = sorted(chosen, key=lambda i: (-round(float(sums[i]), 6), -depth[i]))
        if len(order) > max_labels:
            order = self._capped(order, max_labels)
        return [GenericLabel(nodes[i].name, float(sums[i])) for i in order]

    def _capped(self, order: Sequence[int], max_labels: int) -> list[int]:
        """At most `max_labels` of the chosen labels (most confident first), each branch's
        most specific label kept before any label above it: a cap drops "carnivore", never
        the second branch's "tennis ball" (its parents stay derivable when read)."""
        tips = self._tips([self.labelled[i].id for i in order])
        keep = set([i for i in order if self.labelled[i].id in tips][:max_labels])
        keep.update([i for i in order if i not in keep][: max_labels - len(keep)])
        return [i for i in order if i in keep]

    @cached_property
    def _depths(self) -> np.ndarray:
        return np.asarray([len(self.ancestors[node.id]) for node in self.labelled])

    def branches(self, labels: Sequence[GenericLabel]) -> tuple[GenericLabel, ...]:
        """The most specific label of each branch of an image's labels, in their order (most
        confident first): the labels that no other chosen label sits under. A cat beside a
        mug gives (tabby cat, cup); a golden retriever alone (golden retriever,)."""
        ids = [self._node_of(label.name).id for label in labels]
        tips = self._tips(ids)
        return tuple(label for label, node_id in zip(labels, ids, strict=True) if node_id in tips)

    def _tips(self, node_ids: Sequence[str]) -> set[str]:
        """The ids that no other id of `node_ids` sits under (each branch's most specific)."""
        below = {ancestor for node_id in node_ids for ancestor in self.ancestors[node_id]}
        return set(node_ids) - below

    def second_thing(self, branches: Sequence[GenericLabel]) -> GenericLabel | None:
        """Of an image's branches (most confident first), the first after the first that
        shares no visible label with it: another kind of thing (a mug beside a cat), not a
        second guess at the same thing (a labrador beside the golden retriever, under dog;
        a cat beside the dog, under animal). None when there is none."""
        if not branches:
            return None
        first = self._lineage_ids(branches[0].name)
        return next((b for b in branches[1:] if first.isdisjoint(self._lineage_ids(b.name))), None)

    def _lineage_ids(self, name: str) -> set[str]:
        node = self._node_of(name)
        return {node.id, *self._visible_ancestors(node.id)}

    def _visible_ancestors(self, node_id: str) -> tuple[str, ...]:
        """A node's visible ancestors' ids, nearest first."""
        return tuple(a for a in self.ancestors[node_id] if not self.nodes[a].hidden)

    def _node_of(self, name: str) -> Node:
        """The node of a label this hierarchy chose (a name it gave, so always found)."""
        node = self.find(name)
        assert node is not None, name
        return node

    def primary(self, labels: Sequence[GenericLabel]) -> GenericLabel | None:
        """The most specific of an image's labels on its most confident branch (golden
        retriever, not dog): the first of `branches`."""
        return next(iter(self.branches(labels)), None)
