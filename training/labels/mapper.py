"""Map a user's label names onto ImageNet-1k's classes through the label hierarchy.

A name (case-insensitive; spaces or underscores) is looked up first among the hierarchy's
visible names and aliases (reviewed: "cat" is the house cat), then among WordNet's lemmas in
sense order, taking the first sense with ImageNet classes under it. A reviewed override
file forces a label: {"label": "wnid" | "node name" | [class entries as in
training.imagenet]}.

Two labels never share a class: when their classes overlap ("dog" and "animal"), each shared
class goes to the label with the fewest classes (the more specific), and the general label
keeps the rest; a label left with nothing, or a tie, is a MappingError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from classifier import word_forms
from classifier.hierarchy import LabelHierarchy, Node, gloss_clause
from training.imagenet import MappingError, resolve
from training.labels import builtin_hierarchy
from training.labels.wordnet import first_noun_gloss, first_noun_sense

EXAMPLES = 3
ANIMALS10_OVERRIDES_FILE = "animals10_overrides.json"

Override = str | Sequence[int | str]


@dataclass(frozen=True)
class MappedLabel:
    """One label's place in the hierarchy and the ImageNet classes it owns."""

    label: str
    node_id: str  # "" when an override lists classes directly
    node_name: str
    gloss: str
    indices: tuple[int, ...]
    examples: tuple[str, ...]
    # The name's other WordNet senses with ImageNet classes under them, "name (wnid: gloss)", for
    # the reviewer: an overrides file picks one instead ("crane" -> the bird, not the machine)
    other_senses: tuple[str, ...] = ()
    # WordNet's first sense of the name when no ImageNet class is one (its gloss), so the
    # reviewer sees that "jacket" went to a book jacket because no class is a coat; "" if not
    unmet_first_sense: str = ""
    # The narrower labels that took some of this node's classes, "label (count)": "animal"
    # beside "dog" owns every animal class but the 118 dogs
    ceded: tuple[str, ...] = ()


# The lookup key of a name: lower case, underscores as spaces, single spaces.
normalise = word_forms.label_key


def classes_under(hierarchy: LabelHierarchy, node_id: str) -> tuple[int, ...]:
    """The ImageNet class indices at or under a node (hidden nodes too)."""
    ancestors = hierarchy.ancestors
    return tuple(
        i for i, c in enumerate(hierarchy.class_ids) if c == node_id or node_id in ancestors[c]
    )


def find_node(hierarchy: LabelHierarchy, name: str) -> Node | None:
    """The node a name means: a visible name or alias, else WordNet's first sense with
    ImageNet classes under it; then the same for its singular forms (a folder of "dogs"),
    then any other spelling a query accepts (`LabelHierarchy.search`: "cell phone")."""
    key = normalise(name)
    senses = hierarchy.extra.get("senses", {})
    for form in (key, *word_forms.singulars(key)):
        node = hierarchy.find(form)
        if node is not None and classes_under(hierarchy, node.id):
            return node
        for node_id in senses.get(form, []):
            if classes_under(hierarchy, node_id):
                return hierarchy.nodes[node_id]
    node = hierarchy.search(key)
    return node if node is not None and classes_under(hierarchy, node.id) else None


def word_classes(hierarchy: LabelHierarchy, word: str) -> frozenset[int]:
    """The ImageNet classes a word means, as a label name is placed (`find_node`); empty
    when no class is one."""
    node = find_node(hierarchy, word)
    return frozenset(classes_under(hierarchy, node.id)) if node is not None else frozenset()


def _unplaceable(hierarchy: LabelHierarchy, name: str) -> str:
    close = hierarchy.suggest(normalise(name))
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    gloss = first_noun_gloss(name)
    meaning = f" (WordNet: {gloss})" if gloss else ""
    return f"no ImageNet class is a {name!r}{meaning}{hint} (or give it an override)"


def _overridden(hierarchy: LabelHierarchy, label: str, target: Override) -> MappedLabel:
    if isinstance(target, str):
        node = hierarchy.nodes.get(target) or find_node(hierarchy, target)
        if node is None:
            raise MappingError(f"override for {label!r}: no node or synset named {target!r}")
        return _mapped(hierarchy, label, node, classes_under(hierarchy, node.id))
    indices = tuple(sorted({i for entry in target for i in resolve(entry)}))
    listed = ", ".join(str(entry) for entry in target)
    return MappedLabel(label, "", "ImageNet classes", f"listed: {listed}", indices, ())


def _mapped(
    hierarchy: LabelHierarchy, label: str, node: Node, indices: tuple[int, ...]
) -> MappedLabel:
    return MappedLabel(label, node.id, node.name, node.gloss, indices, ())


def _with_examples(hierarchy: LabelHierarchy, mapped: MappedLabel) -> MappedLabel:
    names = tuple(hierarchy.nodes[hierarchy.class_ids[i]].name for i in mapped.indices)
    return replace(mapped, examples=names[:EXAMPLES])


def other_senses(hierarchy: LabelHierarchy, name: str, chosen: str) -> tuple[str, ...]:
    """The name's WordNet senses (its singular forms' too) that have ImageNet classes under
    them that the chosen node does not, as "name (wnid: gloss)" in sense order (the gloss tells
    apart a sense that has the chosen node's name: "ball", a thing of spherical shape)."""
    senses = hierarchy.extra.get("senses", {})
    key = normalise(name)
    found: list[str] = []
    taken = set(classes_under(hierarchy, chosen))
    for form in (key, *word_forms.singulars(key)):
        for node_id in senses.get(form, []):
            # a sense whose classes the chosen node already has (cup's "tea cup") is no other
            if not set(classes_under(hierarchy, node_id)) - taken:
                continue
            if node_id != chosen:
                node = hierarchy.nodes[node_id]
                found.append(f"{node.name} ({node_id}: {gloss_clause(node.gloss)})")
    return tuple(dict.fromkeys(found))


def unmet_first_sense(hierarchy: LabelHierarchy, name: str, chosen: str) -> str:
    """The gloss of the name's first WordNet noun sense when it is not the chosen node and no
    ImageNet class is one (a proper noun's sense, Hart Crane's for "crane", aside); else "".
    Empty without WordNet installed."""
    first = first_noun_sense(name)
    if first is None or first.id == chosen or first.id in hierarchy.nodes:
        return ""
    proper = all(lemma[:1].isupper() for lemma in first.lemmas)  # Crane, Hart_Crane
    return "" if proper else gloss_clause(first.gloss)


def split_overlaps(found: Mapping[str, MappedLabel]) -> dict[str, tuple[int, ...]]:
    """Each label's classes once every shared class went to the most specific claimant."""
    claims: dict[int, list[str]] = {}
    for label, mapped in found.items():
        for i in mapped.indices:
            claims.setdefault(i, []).append(label)
    kept: dict[str, list[int]] = {label: [] for label in found}
    for i, labels in sorted(claims.items()):
        sizes = sorted((len(found[label].indices), label) for label in labels)
        if len(sizes) > 1 and sizes[0][0] == sizes[1][0]:
            raise MappingError(
                f"{sizes[0][1]!r} and {sizes[1][1]!r} map to the same ImageNet classes"
            )
        kept[sizes[0][1]].append(i)
    for label, indices in kept.items():
        if not indices:
            raise MappingError(
                f"label {label!r} has no ImageNet class left: narrower labels own all"
            )
    return {label: tuple(indices) for label, indices in kept.items()}


def map_labels(
    names: Iterable[str],
    overrides: Mapping[str, Override] | None = None,
    hierarchy: LabelHierarchy | None = None,
) -> dict[str, MappedLabel]:
    """Each label name -> its node and ImageNet classes; MappingError for the names it cannot
    place (each with close names, all in one line) or for labels that cannot share out their
    classes."""
    tree = hierarchy or builtin_hierarchy()
    forced = {normalise(label): target for label, target in (overrides or {}).items()}
    found: dict[str, MappedLabel] = {}
    unplaced: list[str] = []
    for name in names:
        if normalise(name) in forced:
            found[name] = _overridden(tree, name, forced[normalise(name)])
            continue
        node = find_node(tree, name)
        if node is None:
            unplaced.append(_unplaceable(tree, name))
            continue
        mapped = _mapped(tree, name, node, classes_under(tree, node.id))
        found[name] = replace(
            mapped,
            other_senses=other_senses(tree, name, node.id),
            unmet_first_sense=unmet_first_sense(tree, name, node.id),
        )
    if unplaced:
        raise MappingError("; ".join(unplaced))
    owned = split_overlaps(found)
    return {
        label: _with_examples(
            tree, replace(m, indices=owned[label], ceded=ceded(m.indices, label, owned))
        )
        for label, m in found.items()
    }


def ceded(
    claimed: Sequence[int], label: str, owned: Mapping[str, Sequence[int]]
) -> tuple[str, ...]:
    """The other labels that own some of the classes this label claimed, "label (count)"."""
    wanted = set(claimed)
    taken = ((other, len(wanted.intersection(mine))) for other, mine in owned.items())
    return tuple(f"{other} ({n})" for other, n in taken if other != label and n)


def read_overrides(path: Path) -> dict[str, Override]:
    """A label-override file: {"label": "wnid or node name" | [class entries], ...}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_once_each)
    except (OSError, ValueError) as error:
        raise MappingError(f"cannot read label overrides {path}: {error}") from None
    return _checked_overrides(data, str(path))


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (json.loads keeps the last of two)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"{key!r} is given twice")
        found[key] = value
    return found


def _checked_overrides(data: object, where: str) -> dict[str, Override]:
    if not isinstance(data, dict):
        raise MappingError(f"label overrides {where} must be a JSON object of label -> target")
    found: dict[str, Override] = {}
    spelled: dict[str, str] = {}
    for label, target in data.items():
        if label.startswith("_"):
            continue  # "_why" and other notes for reviewers
        if isinstance(target, list) and target and all(isinstance(e, int | str) for e in target):
            found[label] = tuple(target)
        elif isinstance(target, str) and target.strip():
            found[label] = target
        else:
            raise MappingError(
                f"label overrides {where}: {label!r} needs a wnid, a name or a non-empty list"
            )
        first = spelled.setdefault(normalise(label), label)
        if first != label:
            raise MappingError(f"label overrides {where}: {first!r} and {label!r} are one label")
    return found


def check_overrides_used(names: Sequence[str], overrides: Mapping[str, Override]) -> None:
    """MappingError for an override whose label is none of `names` (a misspelt label would
    otherwise be mapped as if it had no override)."""
    wanted = {normalise(name) for name in names}
    unused = [label for label in overrides if normalise(label) not in wanted]
    if unused:
        raise MappingError(
            f"override for {unused[0]!r}, which is not one of the labels ({', '.join(names)})"
        )


def animals10_overrides() -> dict[str, Override]:
    """The reviewed overrides that make the mapper give Animals-10's built-in mapping."""
    text = resources.files(__package__).joinpath(ANIMALS10_OVERRIDES_FILE).read_text()
    return _checked_overrides(json.loads(text), ANIMALS10_OVERRIDES_FILE)
